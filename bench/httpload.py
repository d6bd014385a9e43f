"""A lean HTTP/1.1 keep-alive load generator on asyncio streams.

httpx costs more CPU per request than a small FastAPI route does, so with it the client
would be the bottleneck and every ratio would read 1.0; raw streams keep the client cheap.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


RequestFactory = Callable[[int], bytes]


def get(path: str) -> RequestFactory:
    raw = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    return lambda _: raw


def post_json(path: str, body: bytes) -> RequestFactory:
    head = f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
    raw = (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    return lambda _: raw


async def _one_connection(
    port: int, make: RequestFactory, stop_at: float, result: LoadResult
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            writer.write(make(result.requests))
            status = await _read_response(reader)
            result.latencies.append(time.perf_counter() - started)
            result.requests += 1
            result.errors += status >= 400
    finally:
        writer.close()


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = next(
        int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length:")
    )
    await reader.readexactly(length)
    return status


async def run_load(
    port: int, make: RequestFactory, seconds: float, connections: int = 16
) -> LoadResult:
    result = LoadResult()
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(
        *(_one_connection(port, make, stop_at, result) for _ in range(connections))
    )
    result.seconds = time.perf_counter() - started
    return result
