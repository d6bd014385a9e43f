"""Binance stream loader throughput next to a raw `websockets` receive loop, same feed, same run.

The baseline stays the bare `websockets` loop the issue set; the loader itself receives
through aiohttp's WebSocket client (app/workers/binance/session.py), whose compiled frame
reader costs about a third of websockets' per message. So a bare aiohttp loop is measured
too, in the same turns: what the loader adds over its own receive layer.

The feed (bench/loaders_feed.py: aggTrade of 10 symbols on one combined stream, ids always
advancing) runs in its own process and pours pre-framed rounds as fast as the socket takes
them, so it is not the bottleneck. The loader path is the real one: receive, parse, gap
check, normalise, batch, sink; here the sink only counts (bench/loaders_kafka.py has the
same loader writing to the embedded broker).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, NamedTuple, cast

import aiohttp
import orjson
from websockets.asyncio.client import connect

from app.workers.base import JobContext, RecordSink
from app.workers.binance import jobs
from app.workers.binance.settings import BinanceTuning
from bench.loaders_feed import SYMBOLS, AggTradeFeed, streams
from tests.fakes.binance_job import LocalJobContext, job_env
from tests.fakes.binance_ws import FakeBinanceWs
from tests.fixtures.eventually import eventually

STARTUP_SECONDS = 10.0
ROUNDS = 3


class CountingSink:
    """A RecordSink that only counts: what the loader costs without Kafka."""

    def __init__(self) -> None:
        self.delivered = 0

    async def send(self, records: Sequence[dict[str, Any]], key_field: str = "symbol") -> None:
        self.delivered += len(records)

    async def flush(self) -> None:
        return None


def serve_forever(urls: Any) -> None:
    """Child process: the fake exchange pouring the feed (its own ticking paused)."""

    async def main() -> None:
        fake = FakeBinanceWs(firehose=AggTradeFeed(), paused=True)
        urls.put(await fake.start())
        await asyncio.Event().wait()

    asyncio.run(main())


class Rate(NamedTuple):
    per_s: float
    """Messages (records) per second."""
    cpu_us: float
    """CPU time of this process per message, in microseconds: what the figure costs,
    steadier than the rate when other processes load the machine."""


async def measure(counter: Callable[[], int], seconds: float) -> Rate:
    """The rate counted over `seconds`, once the first messages arrived."""
    await eventually(counter, within=STARTUP_SECONDS, every=0.01, what="the first records")
    start, began, cpu = counter(), time.perf_counter(), time.process_time()
    await asyncio.sleep(seconds)
    count = max(counter() - start, 1)
    used = time.process_time() - cpu
    return Rate(count / (time.perf_counter() - began), used / count * 1e6)


async def raw_rate(url: str, seconds: float) -> Rate:
    """The baseline: a bare `websockets` loop receiving the same combined stream the
    cheapest way (bytes, no text decoding, as the loader receives)."""

    async def receive(path: str, received: list[int]) -> None:
        async with connect(path, ping_interval=None, max_queue=4096) as ws:
            while True:
                await ws.recv(decode=False)
                received[0] += 1

    return await _loop_rate(url, seconds, receive)


async def aiohttp_rate(url: str, seconds: float) -> Rate:
    """A bare aiohttp loop on the same stream: the loader's receive layer alone."""

    async def receive(path: str, received: list[int]) -> None:
        async with aiohttp.ClientSession() as http, http.ws_connect(path) as ws:
            while (await ws.receive()).type is aiohttp.WSMsgType.TEXT:
                received[0] += 1

    return await _loop_rate(url, seconds, receive)


async def _loop_rate(
    url: str, seconds: float, receive: Callable[[str, list[int]], Coroutine[Any, Any, None]]
) -> Rate:
    """The rate of a bare receive loop on the feed's combined stream, run in a task; it
    counts in `received[0]` (an inline add, not a call: the baselines stay bare)."""
    received = [0]
    path = f"{url}/stream?streams={'/'.join(streams())}"
    task = asyncio.create_task(receive(path, received))
    try:
        return await measure(lambda: received[0], seconds)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def loader_rate(
    url: str, seconds: float, sink: RecordSink, counter: Callable[[], int]
) -> Rate:
    """The real stream job (ws_agg_trades, 10 symbols) writing to `sink`."""
    ctx = LocalJobContext(job_env("ws_agg_trades", ",".join(SYMBOLS), binance_ws_url=url))
    ctx.sink = sink  # type: ignore[assignment]
    job = asyncio.create_task(jobs.run(cast(JobContext, ctx), BinanceTuning(batch_size=1000)))
    try:
        return await measure(counter, seconds)
    finally:
        ctx.stop_requested.set()
        await job


async def counted_rate(url: str, seconds: float) -> Rate:
    sink = CountingSink()
    return await loader_rate(url, seconds, sink, lambda: sink.delivered)


async def in_turns(
    measured: Callable[[float], Awaitable[Rate]],
    baseline: Callable[[float], Awaitable[Rate]],
    seconds: float,
) -> tuple[Rate, Rate]:
    """Medians of ROUNDS turns of baseline then measured, `seconds` in all for each, so a
    busy moment of the (shared) machine hits both."""
    turns: list[tuple[Rate, Rate]] = []
    for _ in range(ROUNDS):
        base = await baseline(seconds / ROUNDS)
        turns.append((await measured(seconds / ROUNDS), base))
    return _median([m for m, _ in turns]), _median([b for _, b in turns])


def _median(rates: list[Rate]) -> Rate:
    return Rate(*(statistics.median(values) for values in zip(*rates, strict=True)))


async def parse_rates(url: str, seconds: float) -> tuple[Rate, Rate, Rate]:
    """(loader into a counting sink, raw websockets loop, raw aiohttp loop) msg/s: medians
    of ROUNDS turns of the three, `seconds` in all for each."""
    turns: list[tuple[Rate, Rate, Rate]] = []
    for _ in range(ROUNDS):
        raw = await raw_rate(url, seconds / ROUNDS)
        loader = await counted_rate(url, seconds / ROUNDS)
        turns.append((loader, raw, await aiohttp_rate(url, seconds / ROUNDS)))
    loader, raw, bare_aiohttp = (_median(list(column)) for column in zip(*turns, strict=True))
    return loader, raw, bare_aiohttp


def feed_server() -> tuple[multiprocessing.Process, str]:
    urls: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve_forever, args=(urls,), daemon=True)
    server.start()
    return server, urls.get(timeout=STARTUP_SECONDS)


async def all_rates(url: str, seconds: float) -> dict[str, float]:
    from bench.loaders_kafka import kafka_rates

    loader, raw, bare_aiohttp = await parse_rates(url, seconds)
    kafka_loader, bare = await kafka_rates(url, seconds)
    return {
        "loader_msgs_per_s": round(loader.per_s),
        "raw_msgs_per_s": round(raw.per_s),
        "ratio": round(loader.per_s / raw.per_s, 3),
        "loader_cpu_us": round(loader.cpu_us, 2),
        "raw_cpu_us": round(raw.cpu_us, 2),
        "aiohttp_msgs_per_s": round(bare_aiohttp.per_s),
        "aiohttp_cpu_us": round(bare_aiohttp.cpu_us, 2),
        "kafka_loader_records_per_s": round(kafka_loader.per_s),
        "kafka_bare_records_per_s": round(bare.per_s),
        "kafka_ratio": round(kafka_loader.per_s / bare.per_s, 3),
        "kafka_loader_cpu_us": round(kafka_loader.cpu_us, 2),
        "kafka_bare_cpu_us": round(bare.cpu_us, 2),
    }


def run(seconds: float = 3.0) -> dict[str, float]:
    """The parse figures (loader, raw loop) and the Kafka ones (loader, bare producer),
    all from one feed server."""
    server, url = feed_server()
    try:
        return asyncio.run(all_rates(url, seconds))
    finally:
        server.terminate()
        server.join(5)


if __name__ == "__main__":
    print(orjson.dumps(run(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0)).decode())
