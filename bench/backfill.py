"""`backfill`: rows per second a gap backfill writes, next to a raw paged REST fetch of the
same rows from the same server in the same run.

The fake Binance REST server runs in its own process and serves `historicalTrades` by
`fromId` (1000 rows a page) from its synthetic tape. The raw baseline is the least a
backfill must do: GET each page with httpx and parse it with orjson, one page after the
other. The backfill is the real path of a stream job: the Backfiller, the job's
RestClient (weight pacing, retries), paging by id, normalising each row into the trade
record and sending the batches through the job's Batcher into a counting sink (the Kafka
producer's own cost is the stream loader's benchmark). Binance's weight limit is set out of
reach for both, so what is measured is our code, not the exchange's pacing.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any, cast

import httpx
import orjson

from app.workers.base import JobContext
from app.workers.binance.backfill import binance_backfiller
from app.workers.binance.batcher import Batcher
from app.workers.binance.market import Market
from app.workers.binance.rest_client import RestClient
from app.workers.binance.settings import BinanceTuning
from app.workers.gaps import GapBook
from bench.report import Row
from tests.fakes.binance_job import LocalJobContext, job_env
from tests.fakes.binance_rest import FakeBinanceRest

ROWS = 1_000_000
PAGE = 1000
TARGET_RATIO = 0.7
PATH = "/api/v3/historicalTrades"
TUNING = BinanceTuning(weight_limit_1m=10**12, batch_size=PAGE)


class CountingSink:
    def __init__(self) -> None:
        self.count = 0

    async def send(self, records: Sequence[dict[str, Any]], key_field: str = "symbol") -> None:
        self.count += len(records)

    async def flush(self) -> None:
        return None


def serve_forever(urls: Any) -> None:
    """Child process: the fake Binance REST server."""

    async def main() -> None:
        fake = FakeBinanceRest(weight_limit=10**12)
        urls.put(await fake.start())
        await asyncio.Event().wait()

    asyncio.run(main())


async def raw_rate(url: str, rows: int) -> float:
    """Rows per second of the bare paged fetch: GET and parse, page after page."""
    fetched, cursor = 0, 1
    began = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        while fetched < rows:
            params: dict[str, Any] = {"symbol": "BTCUSDT", "fromId": cursor}
            params["limit"] = min(PAGE, rows - fetched)
            page = orjson.loads((await http.get(PATH, params=params)).content)
            fetched += len(page)
            cursor = page[-1]["id"] + 1
    return fetched / (time.perf_counter() - began)


async def backfill_rate(url: str, rows: int) -> float:
    """Rows per second written by the backfill of a gap of `rows` trade ids."""
    ctx = LocalJobContext(job_env("ws_trades", "BTCUSDT", binance_rest_url=url))
    sink = CountingSink()
    ctx.sink = sink  # type: ignore[assignment]
    job = cast(JobContext, ctx)
    market = Market("binance", False, url, "ws://unused")
    client = RestClient(url, TUNING, job)
    book = GapBook(lambda summary: None)
    backfiller = binance_backfiller(market, client, book, Batcher(job, PAGE), TUNING)
    gap = book.found("BTCUSDT", "btcusdt@trade", "trade_id", 1, rows, (0, 0))
    began = time.perf_counter()
    try:
        await backfiller.fill(gap)
    finally:
        await client.aclose()
    elapsed = time.perf_counter() - began
    assert sink.count == rows and gap["state"] == "filled", (sink.count, gap)
    return rows / elapsed


def measure(rows: int = ROWS, rounds: int = 5) -> dict[str, float]:
    """Medians over `rounds` of {backfill, raw} rows/s, the two taking turns against one
    fake server, so both see the same machine (its load moves by +-30 % on two shared
    cores)."""
    urls: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve_forever, args=(urls,), daemon=True)
    server.start()
    raws, backfills = [], []
    try:
        url = urls.get(timeout=10)
        for _ in range(rounds):
            raws.append(asyncio.run(raw_rate(url, rows)))
            backfills.append(asyncio.run(backfill_rate(url, rows)))
    finally:
        server.terminate()
        server.join(5)
    raw, backfill = statistics.median(raws), statistics.median(backfills)
    return {
        "backfill_rows_per_s": round(backfill),
        "raw_rows_per_s": round(raw),
        "ratio": round(backfill / raw, 3),
    }


def run(seconds: float = 5.0) -> list[Row]:
    """`python -m bench backfill` (a fixed amount of work: `seconds` is not used)."""
    figures = measure()
    raw, backfill = figures["raw_rows_per_s"], figures["backfill_rows_per_s"]
    return [
        Row("backfill", f"raw paged REST fetch, {ROWS:,} trades", raw, "rows/s"),
        Row(
            "backfill",
            f"gap backfill of {ROWS:,} trades: fetch, normalise, write",
            backfill,
            "rows/s",
            raw,
            f">= {TARGET_RATIO:g} x raw",
            backfill / raw >= TARGET_RATIO,
        ),
    ]


if __name__ == "__main__":
    print(orjson.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else ROWS)).decode())
