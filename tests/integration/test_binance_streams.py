"""Stream loaders against the local Binance WebSocket fake."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from app.bus.embedded import free_port
from app.workers.binance import jobs
from app.workers.binance.settings import BinanceTuning
from tests.fakes.binance_job import LocalJobContext, job_env
from tests.fakes.binance_ws import FakeBinanceWs
from tests.fixtures.eventually import eventually

pytestmark = pytest.mark.timeout(10)
SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
FAST = BinanceTuning(
    watchdog_interval_s=0.05,
    silence_timeout_s=0.5,
    reconnect_initial_s=0.05,
    reconnect_max_s=0.2,
    reconnect_jitter_s=0.01,
    batch_size=20,
    messages_per_second=4,
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeBinanceWs]:
    server = FakeBinanceWs()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def futures_fake() -> AsyncIterator[FakeBinanceWs]:
    server = FakeBinanceWs(futures=True, stream_limit=200, message_limit=10)
    await server.start()
    yield server
    await server.stop()


def context(url: str, job_type: str, symbols: list[str], futures: bool = False) -> Any:
    exchange = "binance-futures" if futures else "binance"
    key = "binance_futures_ws_url" if futures else "binance_ws_url"
    return LocalJobContext(job_env(job_type, ",".join(symbols), exchange=exchange, **{key: url}))


def symbols_seen(records: list[dict[str, Any]]) -> set[str]:
    return {record["symbol"] for record in records}


async def stop(ctx: LocalJobContext, job: asyncio.Task[None]) -> None:
    ctx.stop_requested.set()
    await asyncio.wait_for(job, 1)


async def test_trades_of_every_symbol_arrive_normalized(fake: FakeBinanceWs) -> None:
    ctx = context(fake.url, "ws_trades", SYMBOLS)
    job = asyncio.create_task(jobs.run(ctx, FAST))
    await asyncio.wait_for(ctx.sink.wait_for(lambda r: symbols_seen(r) == set(SYMBOLS)), 3)
    await stop(ctx, job)
    assert fake.paths == ["/stream?streams=btcusdt@trade/ethusdt@trade/solusdt@trade"]
    first = ctx.sink.records[0]
    assert first["kind"] == "trade" and isinstance(first["price"], str)
    assert first["id"] == f"binance:{first['symbol']}:trade:{first['trade_id']}"
    assert ctx.progress_calls[-1][0] == len(ctx.sink.records)


async def test_live_stats_for_monitors_per_ticker_and_connection(fake: FakeBinanceWs) -> None:
    """The seed's per-ticker figures, as the MOEX loader sends them: latest trade price,
    updates, last update, connections online."""
    symbols = [f"S{n}USDT" for n in range(4)]
    tuning = FAST.model_copy(update={"streams_per_connection": 2})
    ctx = context(fake.url, "ws_trades", symbols)
    job = asyncio.create_task(jobs.run(ctx, tuning))

    def every_ticker_traded(snapshots: list[dict[str, Any]]) -> bool:
        return bool(snapshots) and len(snapshots[-1]["tickers"]) == len(symbols)

    await eventually(lambda: ctx.stats, every_ticker_traded, within=5, what="stats")
    stats = ctx.stats[-1]
    await stop(ctx, job)
    assert (stats["connections_total"], stats["online"], stats["tickers_total"]) == (2, [1, 2], 4)
    assert stats["tickers_seen"] == stats["with_prices"] == 4
    assert stats["updates"] >= 4
    prices = {r["symbol"]: r["price"] for r in ctx.sink.records[: stats["updates"]]}
    ticker = stats["tickers"]["S0USDT"]
    assert ticker["last"] == prices["S0USDT"] and ticker["open"] is None
    assert ticker["updates"] >= 1 and ticker["last_update"] > 0


async def test_streams_split_by_connection_limit_and_paced(fake: FakeBinanceWs) -> None:
    symbols = [f"S{n}USDT" for n in range(8)]
    tuning = FAST.model_copy(
        update={"streams_per_connection": 4, "url_streams_max": 2, "subscribe_chunk": 1}
    )
    ctx = context(fake.url, "ws_candles_5m", symbols)
    job = asyncio.create_task(jobs.run(ctx, tuning))
    await asyncio.wait_for(ctx.sink.wait_for(lambda r: symbols_seen(r) == set(symbols)), 5)
    await stop(ctx, job)
    assert fake.counters["connections"] == 2 and fake.counters["subscribes"] == 4
    assert fake.counters["max_streams"] == 2 and fake.counters["rate_limit_closes"] == 0
    assert {r["interval"] for r in ctx.sink.records} == {"5m"}


async def test_too_fast_subscribing_is_dropped_and_recovers(fake: FakeBinanceWs) -> None:
    symbols = [f"S{n}USDT" for n in range(10)]
    tuning = FAST.model_copy(
        update={"url_streams_max": 1, "subscribe_chunk": 1, "messages_per_second": 100}
    )
    ctx = context(fake.url, "ws_trades", symbols)
    job = asyncio.create_task(jobs.run(ctx, tuning))
    await asyncio.wait_for(fake.wait_until("rate_limit_closes", 1), 3)
    await asyncio.wait_for(fake.wait_until("connections", 2), 3)
    await stop(ctx, job)
    assert any("failed" in w or "no data" in w for w in ctx.warnings)


async def test_server_shutdown_means_reconnect_now(fake: FakeBinanceWs) -> None:
    fake.shutdown_grace_s = 5
    ctx = context(fake.url, "ws_book_ticker", SYMBOLS)
    job = asyncio.create_task(jobs.run(ctx, FAST))
    await asyncio.wait_for(fake.wait_until("connections", 1), 3)
    shutdown = asyncio.create_task(fake.announce_shutdown())
    await asyncio.wait_for(fake.wait_until("connections", 2), 1)
    await stop(ctx, job)
    shutdown.cancel()
    assert any("serverShutdown" in w for w in ctx.warnings)


async def test_rotates_before_the_connection_lifetime(fake: FakeBinanceWs) -> None:
    fake.lifetime_s = 5
    ctx = context(fake.url, "ws_ticker", SYMBOLS)
    job = asyncio.create_task(jobs.run(ctx, FAST.model_copy(update={"connection_lifetime_s": 0.3})))
    await asyncio.wait_for(fake.wait_until("connections", 3), 3)
    await stop(ctx, job)
    assert fake.counters["lifetime_closes"] == 0
    assert any("rotating" in w for w in ctx.warnings)


async def test_pings_are_answered_with_the_payload(fake: FakeBinanceWs) -> None:
    fake.ping_interval_s, fake.pong_timeout_s = 0.05, 0.5
    ctx = context(fake.url, "ws_trades", SYMBOLS)
    job = asyncio.create_task(jobs.run(ctx, FAST))
    await asyncio.wait_for(fake.wait_until("pongs", 3), 3)
    await stop(ctx, job)
    assert fake.counters["pong_timeouts"] == 0 and fake.counters["connections"] == 1


async def test_fake_drops_a_client_that_does_not_pong(fake: FakeBinanceWs) -> None:
    fake.ping_interval_s, fake.pong_timeout_s = 0.05, 0.2
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{fake.url}/ws/btcusdt@trade", autoping=False) as ws,
    ):
        await asyncio.wait_for(fake.wait_until("pong_timeouts", 1), 3)
        while (message := await asyncio.wait_for(ws.receive(), 2)).type != aiohttp.WSMsgType.CLOSE:
            pass
        assert message.data == 1008


async def test_futures_streams_use_their_routes(futures_fake: FakeBinanceWs) -> None:
    for job_type, route in (("ws_book_ticker", "/public"), ("ws_mark_price", "/market")):
        ctx = context(futures_fake.url, job_type, SYMBOLS, futures=True)
        job = asyncio.create_task(jobs.run(ctx, FAST))
        await asyncio.wait_for(ctx.sink.wait_for(lambda r: symbols_seen(r) == set(SYMBOLS)), 3)
        await stop(ctx, job)
        assert futures_fake.paths[-1].startswith(f"{route}/stream?streams=")


async def test_a_silent_unrouted_path_is_detected(futures_fake: FakeBinanceWs) -> None:
    ctx = context(futures_fake.url + "/v1", "ws_agg_trades", SYMBOLS, futures=True)
    job = asyncio.create_task(jobs.run(ctx, FAST))
    await asyncio.wait_for(ctx.warned.wait(), 3)
    await asyncio.wait_for(futures_fake.wait_until("connections", 2), 3)
    await stop(ctx, job)
    assert ctx.sink.records == []
    assert any("no data for 0.5 s" in w for w in ctx.warnings)


async def test_stop_mid_stream_ends_promptly_without_leaks(fake: FakeBinanceWs) -> None:
    before = asyncio.all_tasks()
    ctx = context(fake.url, "ws_agg_trades", SYMBOLS)
    job = asyncio.create_task(jobs.run(ctx, FAST))
    await asyncio.wait_for(ctx.sink.wait_for(lambda r: len(r) >= 20), 3)
    await stop(ctx, job)
    # the fake server's own connection task ends once it sees the socket closed
    ours = {t for t in asyncio.all_tasks() - before if "protocol_handler" not in repr(t)}
    assert ours == set()
    assert ctx.progress_calls[-1][0] == len(ctx.sink.records)


async def test_an_unreachable_stream_keeps_reconnecting_and_says_so() -> None:
    """Streams never give up: every failed attempt is reported with the endpoint, the
    attempt count grows, and the job runs on until stopped."""
    closed = f"ws://127.0.0.1:{free_port()}"
    ctx = context(closed, "ws_trades", ["BTCUSDT"])
    job = asyncio.create_task(jobs.run(ctx, FAST))
    await eventually(lambda: len(ctx.retries) >= 3, within=5, every=0.02, what="3 retries")
    assert not job.done()
    await stop(ctx, job)
    keys, attempts, errors = zip(*ctx.retries, strict=True)
    assert set(keys) == {f"stream {closed}"}
    assert list(attempts[:3]) == [1, 2, 3]
    assert all("stream connection failed" in error for error in errors)
