"""Make-before-break: a serverShutdown or the lifetime rotation opens the next connection
before closing the old one, so the stream goes on with no gap, no repeat and no REST call."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any, cast

import pytest

from app.workers.base import JobContext
from app.workers.binance import jobs
from app.workers.binance.settings import BinanceTuning
from tests.fakes.binance_job import LocalJobContext
from tests.integration.test_stream_gaps import FAST, Exchange, futures, ids_of, spot

pytestmark = pytest.mark.timeout(30)
__all__ = ["futures", "spot"]  # the fixtures, used by name
SYMBOLS = "BTCUSDT,ETHUSDT,SOLUSDT"
LATENCY_S = 0.1
"""A new connection's streams flow this long after it opens: a reconnect that breaks
before it makes misses about ten ticks of every stream."""


@pytest.fixture(autouse=True)
def slow_to_accept(request: pytest.FixtureRequest) -> None:
    for name in ("spot", "futures"):
        if name in request.fixturenames:
            cast(Exchange, request.getfixturevalue(name)).ws.accept_delay_s = LATENCY_S


async def run_until(
    ctx: LocalJobContext, tuning: BinanceTuning, exchange: Exchange, connections: int
) -> None:
    job = asyncio.create_task(jobs.run(cast(JobContext, ctx), tuning))
    await asyncio.wait_for(exchange.ws.wait_until("connections", connections), 10)
    written = len(ctx.sink.records)
    await asyncio.wait_for(ctx.sink.wait_for(lambda r: len(r) >= written + 30), 5)
    ctx.stop_requested.set()
    await asyncio.wait_for(job, 5)


def assert_complete(records: list[dict[str, Any]], field: str = "trade_id") -> None:
    for symbol in {r["symbol"] for r in records}:
        seen = ids_of([r for r in records if r["symbol"] == symbol], field)
        assert sorted(seen) == list(range(min(seen), max(seen) + 1)), f"{symbol}: an id missing"
        repeated = [n for n, times in Counter(seen).items() if times > 1]
        assert not repeated, f"{symbol}: ids written twice: {repeated[:5]}"


async def test_server_shutdown_switches_connections_without_a_gap(spot: Exchange) -> None:
    spot.ws.shutdown_grace_s = 0.5
    ctx = spot.context("ws_trades", SYMBOLS)
    job = asyncio.create_task(jobs.run(cast(JobContext, ctx), FAST))
    await asyncio.wait_for(ctx.sink.wait_for(lambda r: len(r) >= 60), 5)
    await spot.ws.announce_shutdown()
    written = len(ctx.sink.records)
    await asyncio.wait_for(ctx.sink.wait_for(lambda r: len(r) >= written + 60), 5)
    ctx.stop_requested.set()
    await asyncio.wait_for(job, 5)
    assert spot.ws.counters["connections"] == 2
    assert any("serverShutdown" in w for w in ctx.warnings)
    assert ctx.gaps.detected == 0 and spot.rest.log == [], "no gap, no REST call"
    assert_complete(ctx.sink.records)


async def test_forced_rotations_leave_no_gap_and_no_repeat(futures: Exchange) -> None:
    ctx = futures.context("ws_trades", SYMBOLS)
    rotating = FAST.model_copy(update={"connection_lifetime_s": 0.3})
    await run_until(ctx, rotating, futures, connections=5)
    assert sum(1 for w in ctx.warnings if "rotating" in w) >= 4
    assert futures.ws.counters["lifetime_closes"] == 0
    assert ctx.gaps.detected == 0 and futures.rest.log == [], "no gap, no REST call"
    assert_complete(ctx.sink.records)


async def test_kline_streams_rotate_without_a_gap(spot: Exchange) -> None:
    ctx = spot.context("ws_candles_1s", SYMBOLS)
    rotating = FAST.model_copy(update={"connection_lifetime_s": 0.4})
    await run_until(ctx, rotating, spot, connections=6)
    assert ctx.gaps.detected == 0 and spot.rest.log == []
    for symbol in SYMBOLS.split(","):
        closed = sorted(
            r["open_time"] for r in ctx.sink.records if r["symbol"] == symbol and r["closed"]
        )
        assert closed == list(range(closed[0], closed[-1] + 1000, 1000)), symbol


async def test_order_books_rotate_without_a_new_snapshot(spot: Exchange) -> None:
    spot.rest.depth_source = spot.ws.depth.snapshot
    # not about pacing: three snapshots (weight 750) at once, more than a tenth of 4,800
    ctx = spot.context("ws_depth", SYMBOLS, binance_rest_weight_per_minute=60_000)
    rotating = FAST.model_copy(update={"connection_lifetime_s": 0.3})
    await run_until(ctx, rotating, spot, connections=4)
    assert len(spot.rest.requests_to("/api/v3/depth")) == 3, "one snapshot per symbol"
    assert not any("depth gap" in w for w in ctx.warnings)


async def test_a_successor_that_fails_leaves_the_old_connection_serving(spot: Exchange) -> None:
    ctx = spot.context("ws_agg_trades", SYMBOLS)
    rotating = FAST.model_copy(update={"connection_lifetime_s": 0.3})
    job = asyncio.create_task(jobs.run(cast(JobContext, ctx), rotating))
    await asyncio.wait_for(ctx.sink.wait_for(lambda r: len(r) >= 30), 5)
    spot.ws.refusing = True
    await asyncio.wait_for(spot.ws.wait_until("refused", 3), 10)
    spot.ws.refusing = False
    await asyncio.wait_for(spot.ws.wait_until("connections", 3), 10)
    written = len(ctx.sink.records)
    await asyncio.wait_for(ctx.sink.wait_for(lambda r: len(r) >= written + 30), 5)
    ctx.stop_requested.set()
    await asyncio.wait_for(job, 5)
    assert any("keeping this one" in w for w in ctx.warnings)
    assert ctx.gaps.detected == 0 and spot.rest.log == []
    assert_complete(ctx.sink.records)


async def test_streams_subscribed_after_connecting_move_without_a_gap(spot: Exchange) -> None:
    """Streams the URL does not name are SUBSCRIBEd, paced, on every new connection; the
    overlap counts from the last SUBSCRIBE, so they move over too."""
    ctx = spot.context("ws_trades", SYMBOLS)
    paced = FAST.model_copy(
        update={
            "connection_lifetime_s": 0.5,
            "url_streams_max": 1,
            "subscribe_chunk": 1,
            "messages_per_second": 8,
        }
    )
    await run_until(ctx, paced, spot, connections=4)
    assert spot.ws.counters["subscribes"] >= 6 and spot.ws.counters["rate_limit_closes"] == 0
    assert ctx.gaps.detected == 0 and spot.rest.log == []
    assert_complete(ctx.sink.records)


async def test_a_stop_during_the_overlap_closes_both_sessions(spot: Exchange) -> None:
    before = asyncio.all_tasks()
    ctx = spot.context("ws_trades", SYMBOLS)
    rotating = FAST.model_copy(update={"connection_lifetime_s": 0.3})
    job = asyncio.create_task(jobs.run(cast(JobContext, ctx), rotating))
    await asyncio.wait_for(ctx.sink.wait_for(lambda r: len(r) >= 30), 5)
    spot.ws.accept_delay_s = 3  # the successor opens but delivers nothing yet: streams wait
    await asyncio.wait_for(spot.ws.wait_until("handshakes", 2), 5)
    ctx.stop_requested.set()
    await asyncio.wait_for(job, 5)
    ours = {t for t in asyncio.all_tasks() - before if "protocol_handler" not in repr(t)}
    assert ours == set(), "the fake server's handler of the successor may still wait; ours not"
    assert spot.ws.clients == [], "the old session is closed"
