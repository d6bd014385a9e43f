"""Stream gaps against the local Binance servers: found with their bounds, backfilled over
REST (historicalTrades, aggTrades by fromId, klines), the result complete and repeat-free."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from app.aio import cancel_and_wait
from app.workers.base import JobContext
from app.workers.binance import jobs
from app.workers.binance.backfill import binance_backfiller
from app.workers.binance.batcher import Batcher
from app.workers.binance.market import Market
from app.workers.binance.rest_client import RestClient
from app.workers.binance.settings import BinanceTuning
from app.workers.gaps import GapBook
from tests.fakes.binance_events import LiveTape, trade
from tests.fakes.binance_job import LocalJobContext, job_env
from tests.fakes.binance_rest import FakeBinanceRest
from tests.fakes.binance_ws import FakeBinanceWs
from tests.fixtures.eventually import eventually

pytestmark = pytest.mark.timeout(30)
FAST = BinanceTuning(
    watchdog_interval_s=0.05,
    silence_timeout_s=5,
    reconnect_initial_s=0.05,
    reconnect_max_s=0.2,
    reconnect_jitter_s=0.01,
    retry_initial_s=0.05,
    retry_max_s=0.2,
    batch_size=50,
)


class Exchange:
    def __init__(self, futures: bool = False) -> None:
        self.ws = FakeBinanceWs(futures=futures, message_limit=10)
        self.rest = FakeBinanceRest(live=self.ws.tape)

    def context(self, job_type: str, symbols: str, **settings: Any) -> LocalJobContext:
        prefix = "binance_futures" if self.ws.futures else "binance"
        urls = {f"{prefix}_ws_url": self.ws.url, f"{prefix}_rest_url": self.rest.url}
        exchange = "binance-futures" if self.ws.futures else "binance"
        return LocalJobContext(job_env(job_type, symbols, exchange=exchange, **urls, **settings))


@pytest.fixture
async def spot() -> AsyncIterator[Exchange]:
    exchange = Exchange()
    await exchange.ws.start()
    await exchange.rest.start()
    yield exchange
    await exchange.ws.stop()
    await exchange.rest.stop()


@pytest.fixture
async def futures() -> AsyncIterator[Exchange]:
    exchange = Exchange(futures=True)
    await exchange.ws.start()
    await exchange.rest.start()
    yield exchange
    await exchange.ws.stop()
    await exchange.rest.stop()


async def run_through_outage(ctx: LocalJobContext, exchange: Exchange, seconds: float) -> None:
    """Records before, an outage of `seconds`, records after, every gap filled; then stop."""
    job = asyncio.create_task(jobs.run(cast(JobContext, ctx), FAST))
    await asyncio.wait_for(ctx.sink.wait_for(lambda r: len(r) >= 20), 5)
    await exchange.ws.outage(seconds)
    await eventually(
        lambda: ctx.gaps,
        lambda g: g.detected >= 1 and g.open == 0,
        within=15,
        what="every gap found and filled",
    )
    written = len(ctx.sink.records)
    await asyncio.wait_for(ctx.sink.wait_for(lambda r: len(r) >= written + 20), 5)
    ctx.stop_requested.set()
    await asyncio.wait_for(job, 5)


def ids_of(records: list[dict[str, Any]], field: str = "trade_id") -> Counter[int]:
    return Counter(int(str(r[field]).removeprefix("agg:")) for r in records)


async def test_a_dropped_trade_stream_ends_with_every_id_once(spot: Exchange) -> None:
    ctx = spot.context("ws_trades", "BTCUSDT")
    await run_through_outage(ctx, spot, 1.0)
    seen = ids_of(ctx.sink.records)
    assert sorted(seen) == list(range(min(seen), max(seen) + 1)), "no id missing"
    assert set(seen.values()) == {1}, "no id twice"
    gap = ctx.gaps.gaps[0]
    assert (gap["key"], gap["state"], gap["stream"]) == ("trade_id", "filled", "btcusdt@trade")
    missing = gap["last"] - gap["first"] + 1
    assert missing >= 50, "about a second of trades at 100 a second"
    assert gap["backfilled"] == ctx.gaps.backfilled == missing
    assert gap["from_ms"] <= gap["to_ms"]
    assert spot.rest.requests_to("/api/v3/historicalTrades")[0].params["fromId"] == str(
        gap["first"]
    )
    assert ctx.progress_calls[-1][0] == len(ctx.sink.records)


async def test_futures_aggregate_trades_are_backfilled_by_from_id(futures: Exchange) -> None:
    ctx = futures.context("ws_trades", "BTCUSDT,ETHUSDT")
    await run_through_outage(ctx, futures, 0.5)
    for symbol in ("BTCUSDT", "ETHUSDT"):
        seen = ids_of([r for r in ctx.sink.records if r["symbol"] == symbol])
        assert sorted(seen) == list(range(min(seen), max(seen) + 1)) and set(seen.values()) == {1}
    assert ctx.gaps.detected == 2 and {g["key"] for g in ctx.gaps.gaps} == {"agg_id"}
    assert futures.rest.requests_to("/fapi/v1/aggTrades")
    assert not futures.rest.requests_to("/historicalTrades")


async def test_a_kline_stream_gap_is_filled_by_rest_klines(spot: Exchange) -> None:
    ctx = spot.context("ws_candles_1s", "BTCUSDT")
    await run_through_outage(ctx, spot, 2.5)
    gap = ctx.gaps.gaps[0]
    assert gap["key"] == "open_time" and gap["last"] - gap["first"] >= 1000
    closed = {r["open_time"] for r in ctx.sink.records if r["closed"]}
    span = range(min(closed), max(closed) + 1, 1000)
    assert set(span) <= closed, "every candle from the first to the last closed is there"
    assert spot.rest.requests_to("/api/v3/klines")[0].params["startTime"] == str(gap["first"])


async def test_a_gap_binance_will_not_serve_stays_open_and_says_why(spot: Exchange) -> None:
    ctx = spot.context("ws_agg_trades", "BTCUSDT")
    job = asyncio.create_task(jobs.run(cast(JobContext, ctx), FAST))
    await asyncio.wait_for(ctx.sink.wait_for(lambda r: len(r) >= 20), 5)
    spot.rest.fail_next(400)
    await spot.ws.outage(0.3)
    await eventually(lambda: ctx.gaps, lambda g: g.gaps and g.gaps[0]["state"] == "failed")
    ctx.stop_requested.set()
    await asyncio.wait_for(job, 5)
    assert (ctx.gaps.detected, ctx.gaps.open, ctx.gaps.backfilled) == (1, 1, 0)
    reason = ctx.gaps.gaps[0]["reason"] or ""
    assert "Binance answered 400" in reason and reason.endswith("(not retried)")
    assert len(spot.rest.requests_to("/api/v3/aggTrades")) == 1


async def test_a_rate_limited_backfill_waits_then_fills(spot: Exchange) -> None:
    ctx = spot.context("ws_trades", "BTCUSDT")
    spot.rest.fail_next(429, retry_after=0.3)
    await run_through_outage(ctx, spot, 0.3)
    requests = spot.rest.requests_to("/api/v3/historicalTrades")
    assert [r.status for r in requests[:2]] == [429, 200]
    assert requests[1].at - requests[0].at >= 0.3
    assert ctx.gaps.backfilled > 0 and ctx.gaps.open == 0
    assert any(key.startswith("GET ") for key, _, _ in ctx.retries), "the wait was shown"


async def test_ids_binance_does_not_have_leave_the_gap_open_without_retrying() -> None:
    tape = LiveTape()
    for n in range(1, 11):
        tape.record("btcusdt@trade", trade("BTCUSDT", n, False))
    rest = FakeBinanceRest(live=tape)
    await rest.start()
    ctx = LocalJobContext(job_env("ws_trades", "BTCUSDT", binance_rest_url=rest.url))
    job = cast(JobContext, ctx)
    client = RestClient(rest.url, FAST, job)
    book = GapBook(ctx.report_gaps)
    market = Market("binance", False, rest.url, "ws://unused")
    backfiller = binance_backfiller(market, client, book, Batcher(job, 100), FAST)
    gap = book.found("BTCUSDT", "btcusdt@trade", "trade_id", 5, 20, (0, 0))
    backfiller.submit(gap)
    filling = asyncio.create_task(backfiller.run())
    try:
        await eventually(lambda: gap["state"], lambda state: state == "failed")
    finally:
        await cancel_and_wait(filling)
        await client.aclose()
        await rest.stop()
    assert gap["backfilled"] == 6 and ctx.gaps.open == 1
    assert gap["reason"] == "Binance served 6 of the 16 missing records (not retried)"
    asked = [r.params["fromId"] for r in rest.requests_to("/historicalTrades")]
    assert asked == ["5"], "a short page is the end: no further page, no retry"
