"""Binance stream loader throughput next to a raw `websockets` receive loop, same server, same run.

The fake exchange runs in its own process and pours pre-serialised combined `@trade` frames as
fast as the socket takes them, so it is not the bottleneck. The loader path is the real one:
receive, orjson parse, normalise, batch, sink (a Kafka-free counting sink).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

import orjson
from websockets.asyncio.client import connect

from app.workers.base import JobContext
from app.workers.binance import jobs
from app.workers.binance.settings import BinanceTuning
from tests.fakes.binance_events import trade
from tests.fakes.binance_job import LocalJobContext, job_env
from tests.fakes.binance_ws import FakeBinanceWs

STREAM = "btcusdt@trade"


class CountingSink:
    def __init__(self) -> None:
        self.count = 0
        self.started = asyncio.Event()

    async def send(self, records: Sequence[dict[str, Any]], key_field: str = "symbol") -> None:
        self.count += len(records)
        self.started.set()

    async def flush(self) -> None:
        return None


def frames(n: int = 2000) -> list[bytes]:
    return [orjson.dumps({"stream": STREAM, "data": trade("BTCUSDT", i, False)}) for i in range(n)]


def serve_forever(urls: Any) -> None:
    """Child process: the fake exchange in firehose mode."""

    async def main() -> None:
        fake = FakeBinanceWs(firehose=frames())
        urls.put(await fake.start())
        await asyncio.Event().wait()

    asyncio.run(main())


async def measure(counter: Callable[[], int], started: asyncio.Event, seconds: float) -> float:
    """Messages per second counted over `seconds`, after the first message arrived."""
    await asyncio.wait_for(started.wait(), 10)
    start, began = counter(), time.perf_counter()
    await asyncio.sleep(seconds)
    return (counter() - start) / (time.perf_counter() - began)


async def raw_rate(url: str, seconds: float) -> float:
    received = 0
    started = asyncio.Event()

    async def receive() -> None:
        nonlocal received
        async with connect(f"{url}/stream?streams={STREAM}", ping_interval=None) as ws:
            async for _ in ws:
                received += 1
                started.set()

    task = asyncio.create_task(receive())
    try:
        return await measure(lambda: received, started, seconds)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def loader_rate(url: str, seconds: float) -> float:
    ctx = LocalJobContext(job_env("ws_trades", "BTCUSDT", binance_ws_url=url))
    sink = CountingSink()
    ctx.sink = sink  # type: ignore[assignment]
    job = asyncio.create_task(jobs.run(cast(JobContext, ctx), BinanceTuning(batch_size=1000)))
    try:
        return await measure(lambda: sink.count, sink.started, seconds)
    finally:
        ctx.stop_requested.set()
        await job


def run(seconds: float = 3.0) -> dict[str, float]:
    """{"loader_msgs_per_s", "raw_msgs_per_s", "ratio"} from one shared fake server."""
    urls: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve_forever, args=(urls,), daemon=True)
    server.start()
    try:
        url = urls.get(timeout=10)
        raw = asyncio.run(raw_rate(url, seconds))
        loader = asyncio.run(loader_rate(url, seconds))
    finally:
        server.terminate()
        server.join(5)
    return {
        "loader_msgs_per_s": round(loader),
        "raw_msgs_per_s": round(raw),
        "ratio": round(loader / raw, 3),
    }


if __name__ == "__main__":
    print(orjson.dumps(run(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0)).decode())
