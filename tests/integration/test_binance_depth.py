"""Local order books (ws_depth) against the WS fake and the REST fake sharing one market."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.workers.binance import jobs
from app.workers.binance.settings import BinanceTuning
from tests.fakes.binance_job import LocalJobContext, job_env
from tests.fakes.binance_rest import FakeBinanceRest
from tests.fakes.binance_ws import FakeBinanceWs

pytestmark = pytest.mark.timeout(10)
SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
FAST = BinanceTuning(watchdog_interval_s=0.05, reconnect_initial_s=0.05, batch_size=10)


@pytest.fixture(params=[False, True], ids=["spot", "futures"])
async def fakes(request: pytest.FixtureRequest) -> AsyncIterator[tuple[FakeBinanceWs, Any]]:
    ws = FakeBinanceWs(futures=request.param)
    rest = FakeBinanceRest(depth_source=ws.depth.snapshot)
    await ws.start()
    await rest.start()
    yield ws, rest
    await rest.stop()
    await ws.stop()


def context(ws: FakeBinanceWs, rest: FakeBinanceRest) -> Any:
    if ws.futures:
        urls = {"binance_futures_ws_url": ws.url, "binance_futures_rest_url": rest.url}
    else:
        urls = {"binance_ws_url": ws.url, "binance_rest_url": rest.url}
    exchange = "binance-futures" if ws.futures else "binance"
    return LocalJobContext(job_env("ws_depth", ",".join(SYMBOLS), exchange=exchange, **urls))


def rebuilt(records: list[dict[str, Any]], symbol: str) -> tuple[dict[str, str], ...]:
    """The book the records describe: the last snapshot plus every later update."""
    mine = [r for r in records if r["symbol"] == symbol]
    start = max(i for i, r in enumerate(mine) if r["kind"] == "book_snapshot")
    bids: dict[str, str] = {}
    asks: dict[str, str] = {}
    for record in mine[start:]:
        for side, levels in ((bids, record["bids"]), (asks, record["asks"])):
            for price, quantity in levels:
                if quantity == "0":
                    side.pop(price, None)
                else:
                    side[price] = quantity
    return bids, asks


def count(records: list[dict[str, Any]], symbol: str, kind: str) -> int:
    return sum(1 for r in records if r["symbol"] == symbol and r["kind"] == kind)


def caught_up(ws: FakeBinanceWs) -> Any:
    def check(records: list[dict[str, Any]]) -> bool:
        last = {r["symbol"]: r["last_update_id"] for r in records}
        return all(last.get(s) == ws.depth.book(s).last_id for s in SYMBOLS)

    return check


async def test_gap_resyncs_only_that_symbol(fakes: tuple[FakeBinanceWs, FakeBinanceRest]) -> None:
    ws, rest = fakes
    ctx = context(ws, rest)
    job = asyncio.create_task(jobs.run(ctx, FAST))
    await asyncio.wait_for(
        ctx.sink.wait_for(lambda r: all(count(r, s, "book_update") >= 5 for s in SYMBOLS)), 5
    )
    ws.depth.drops.add("ETHUSDT")
    await asyncio.wait_for(
        ctx.sink.wait_for(
            lambda r: (
                count(r, "ETHUSDT", "book_snapshot") == 2
                and count(r, "BTCUSDT", "book_update") >= 30
            )
        ),
        5,
    )
    ws.paused = True
    await asyncio.wait_for(ctx.sink.wait_for(caught_up(ws)), 5)
    ctx.stop_requested.set()
    await asyncio.wait_for(job, 1)
    for symbol in SYMBOLS:
        book = ws.depth.book(symbol)
        assert rebuilt(ctx.sink.records, symbol) == (book.bids, book.asks), symbol
    asked = [e.params["symbol"] for e in rest.requests_to("/depth")]
    assert asked.count("BTCUSDT") == asked.count("SOLUSDT") == 1
    assert asked.count("ETHUSDT") >= 2
    assert [w for w in ctx.warnings if "gap" in w] and all("ETHUSDT" in w for w in ctx.warnings)
    updates = [r for r in ctx.sink.records if r["kind"] == "book_update"]
    assert len({r["id"] for r in updates}) == len(updates)
