"""The MOEX loader against the local STOMP-over-WebSocket fake (tests/fakes/moex_stomp.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import pytest

from app.errors import BrokerUnavailable
from app.workers.moex import loader
from app.workers.moex.errors import MoexAccessDenied
from app.workers.moex.loader import LoaderOptions
from tests.fakes.moex_job import JobContextForTests, moex_env
from tests.fakes.moex_stomp import COLUMNS, FakeMoexServer

pytestmark = pytest.mark.timeout(20)
FAST = LoaderOptions(
    subscribe_delay=0.001, backoff_initial=0.05, backoff_max=0.2, stats_interval=0.05
)


@asynccontextmanager
async def running(
    ctx: JobContextForTests, options: LoaderOptions = FAST
) -> AsyncIterator[asyncio.Task[None]]:
    """The loader as an owned task: stopped and awaited (within 3 s) when the block ends."""
    task = asyncio.create_task(loader.run(ctx, options))
    try:
        yield task
    finally:
        ctx.stop_requested.set()
        async with asyncio.timeout(3):
            await asyncio.wait({task})


async def records(
    ctx: JobContextForTests, kind: str, count: int, symbol: str | None = None
) -> None:
    """Wait until the sink holds exactly `count` records of that kind (and symbol)."""
    sink = ctx.collected
    await sink.changes.wait_until(lambda: len(sink.of(kind, symbol)) == count)


def context(
    server: FakeMoexServer, job_type: str, tickers: Sequence[str], **extra: str
) -> JobContextForTests:
    return JobContextForTests(moex_env(server.url, job_type, tickers, **extra))


async def test_candles_snapshot_then_updates_exact_decimals() -> None:
    async with FakeMoexServer() as server:
        ctx = context(server, "ws_candles", ["SBER", "GAZP"], request_json='{"interval":"M10"}')
        async with running(ctx) as task:
            await records(ctx, "candle", 4)
            first = ctx.collected.of("candle", "SBER")[0]
            assert (first["open"], first["high"], first["low"], first["close"]) == (
                "306.13",
                "306.50",
                "306.00",
                "306.25",
            )
            assert (first["volume"], first["quote_volume"]) == ("4000", "1234567.8")
            assert first["interval"] == "M10" and first["exchange"] == "moex"
            row = [
                "2026-01-22 09:59:00",
                "2026-01-22 09:59:59",
                [306.25, 2],
                [307.1, 2],
                [306.2, 2],
                [307.05, 2],
                [150.0, 1],
                400,
            ]
            assert await server.publish("candles", "SBER", "updates", COLUMNS["candles"], [row])
            await records(ctx, "candle", 3, "SBER")
        assert task.exception() is None
    latest = ctx.collected.of("candle", "SBER")[-1]
    assert (latest["high"], latest["close"], latest["volume"]) == ("307.10", "307.05", "400")
    assert latest["id"] == ctx.collected.of("candle", "SBER")[1]["id"], "same candle, same id"
    assert all(set(h) == {"domain", "login", "passcode"} for h in server.connect_headers)


async def test_candle_selector_carries_ticker_and_interval() -> None:
    async with FakeMoexServer() as server:
        ctx = context(server, "ws_candles", ["SBER"])
        async with running(ctx):
            await server.wait_until(lambda: server.active_subscriptions == 1)
            (session,) = server.sessions
            (sub,) = session.subs.values()
    assert (sub.stream, sub.ticker, sub.interval) == ("candles", "MXSE.TQBR.SBER", "M1")


async def test_orderbook_snapshot_updates_and_removal() -> None:
    async with FakeMoexServer() as server:
        ctx = context(server, "ws_orderbooks", ["SBER"])
        async with running(ctx):
            await records(ctx, "book_snapshot", 1)
            columns = COLUMNS["orderbooks"]
            await server.publish("orderbooks", "SBER", "updates", columns, [["B", [306.1, 2], 99]])
            await server.publish("orderbooks", "SBER", "removal", columns, [["S", [306.2, 2], 0]])
            await records(ctx, "book_snapshot", 3)
    snapshot, updated, removed = ctx.collected.of("book_snapshot")
    assert snapshot["bids"] == [("306.10", "10"), ("306.05", "7")]
    assert snapshot["asks"] == [("306.20", "5"), ("306.35", "12")]
    assert updated["bids"][0] == ("306.10", "99")
    assert removed["asks"] == [("306.35", "12")]
    assert removed["last_update_id"] > snapshot["last_update_id"]


async def test_securities_updates_merge_changed_columns_over_binary_frames() -> None:
    async with FakeMoexServer(binary_messages=True) as server:
        ctx = context(server, "ws_securities", ["SBER"])
        async with running(ctx):
            await records(ctx, "ticker", 1)
            await server.publish(
                "securities", "SBER", "updates", ["TICKER", "LAST"], [["SBER", [306.4, 2]]]
            )
            await records(ctx, "ticker", 2)
    first, second = ctx.collected.of("ticker")
    assert (first["last"], first["bid"], first["ask"], first["volume"]) == (
        "306.13",
        "306.10",
        "306.20",
        "123456",
    )
    assert (second["last"], second["bid"], second["ask"]) == ("306.40", "306.10", "306.20")


async def test_access_denied_fails_the_job_at_once() -> None:
    async with FakeMoexServer(passcode="secret") as server:
        ctx = context(server, "ws_candles", ["SBER"])
        with pytest.raises(MoexAccessDenied, match="Access denied"):
            async with asyncio.timeout(3):
                await loader.run(ctx, FAST)
    assert server.connections_total == 1, "no retry after access denied"


async def test_other_error_frames_reconnect_and_resubscribe() -> None:
    async with FakeMoexServer() as server:
        ctx = context(server, "ws_securities", ["SBER", "GAZP"])
        async with running(ctx) as task:
            await server.wait_until(lambda: server.active_subscriptions == 2)
            await server.error_all("gateway.transport")
            await server.wait_until(
                lambda: server.connections_total == 2 and server.active_subscriptions == 2
            )
            assert not task.done()
            await ctx.changes.wait_until(lambda: bool(ctx.retries) and not ctx.failing)
    assert any("gateway.transport" in warning for warning in ctx.warnings)
    key = f"MOEX connection 1 to {server.url}"
    assert ctx.retries[0][:2] == (key, 1) and "gateway.transport" in ctx.retries[0][2]


async def test_1500_tickers_over_30_connections_survive_dropping_them_all() -> None:
    tickers = [f"T{n:04d}" for n in range(1500)]
    async with FakeMoexServer() as server:
        ctx = context(server, "ws_candles", tickers)
        async with running(
            ctx,
            LoaderOptions(
                subscribe_delay=0.001, backoff_initial=0.05, backoff_max=0.2, stats_interval=0.2
            ),
        ):
            await server.wait_until(lambda: server.active_subscriptions == 1500, seconds=8)
            assert len(server.sessions) == 30 and server.connections_total == 30
            assert server.drop_all() == 30
            await server.wait_until(
                lambda: (
                    server.connections_total == 60
                    and len(server.sessions) == 30
                    and server.active_subscriptions == 1500
                ),
                seconds=8,
            )
            assert set(server.subscriptions) == {f"MXSE.TQBR.{t}" for t in tickers}
            assert max(server.subscriptions.values()) == 1, "each ticker subscribed once"


async def test_stop_mid_stream_disconnects_and_leaves_no_tasks() -> None:
    before = asyncio.all_tasks()
    async with FakeMoexServer(update_interval=0.01) as server:
        ctx = context(server, "ws_candles", ["SBER", "GAZP", "LKOH"])
        async with running(ctx, replace(FAST, tickers_per_connection=2)) as task:
            await ctx.collected.changes.wait_until(lambda: len(ctx.collected.records) >= 30)
            ctx.stop_requested.set()
            async with asyncio.timeout(1):
                await asyncio.wait({task})
        assert task.exception() is None
        await server.wait_until(lambda: not server.sessions)
        assert server.commands["DISCONNECT"] == 2
    assert asyncio.all_tasks() - before == {asyncio.current_task()} - before
    assert ctx.collected.flushes == 1


async def test_live_stats_report_connections_prices_and_busiest_tickers() -> None:
    async with FakeMoexServer(update_interval=0.01) as server:
        ctx = context(server, "ws_candles", ["SBER", "GAZP"])
        options = replace(FAST, tickers_per_connection=1, stats_tickers=1)

        def busy(stats: dict[str, Any]) -> bool:
            return stats.get("connections_online") == 2 and stats.get("updates", 0) > 10

        async with running(ctx, options):
            await ctx.changes.wait_until(lambda: any(map(busy, ctx.stats)))
    stats = next(filter(busy, ctx.stats))
    assert ctx.stats[-1]["connections_online"] == 0, "the final report after the stop"
    assert stats["connections_total"] == 2 and stats["tickers_seen"] == 2
    assert stats["online"] == [1, 2] and stats["tickers_total"] == 2
    assert stats["with_prices"] == 2
    (figures,) = stats["tickers"].values()
    assert figures["open"] == "306.25" and figures["updates"] > 1
    assert ctx.progress_calls[-1][0] >= stats["updates"]


class RefusingSink:
    """A sink whose broker is gone: the job must fail with that error, not hang or wrap it."""

    async def send(self, records: Sequence[dict[str, Any]], key_field: str = "symbol") -> None:
        raise BrokerUnavailable("broker down")

    async def flush(self) -> None:
        return None


async def test_a_failing_sink_fails_the_job_with_its_own_error() -> None:
    async with FakeMoexServer() as server:
        ctx = context(server, "ws_candles", ["SBER", "GAZP"])
        ctx.sink = RefusingSink()
        with pytest.raises(BrokerUnavailable, match="broker down"):
            async with asyncio.timeout(3):
                await loader.run(ctx, FAST)


async def test_stop_is_prompt_even_while_a_connection_hangs_in_its_handshake() -> None:
    accepted = asyncio.Event()
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # never answers the WebSocket upgrade
        accepted.set()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        ctx = JobContextForTests(moex_env(f"ws://127.0.0.1:{port}/", "ws_candles", ["SBER"]))
        task = asyncio.create_task(loader.run(ctx, FAST))
        await asyncio.wait_for(accepted.wait(), 3)
        ctx.stop_requested.set()
        async with asyncio.timeout(1):  # the open timeout is 10 s: stop must not wait for it
            await task
        for writer in held:
            writer.close()
    assert ctx.warnings == [], "a stop is not a connection failure"


async def test_a_refused_ticker_is_dropped_and_its_neighbours_recover() -> None:
    async with FakeMoexServer(unknown_tickers=frozenset({"MXSE.TQBR.NOPE"})) as server:
        ctx = context(server, "ws_securities", ["SBER", "NOPE", "GAZP"])
        async with running(ctx):
            await server.wait_until(
                lambda: server.connections_total == 2 and server.active_subscriptions == 2
            )
            await records(ctx, "ticker", 2, "SBER")  # a snapshot on each connection
            await records(ctx, "ticker", 1, "GAZP")  # only the second got that far
    assert server.commands["SUBSCRIBE"] == 4, "SBER, NOPE; then SBER, GAZP"
    assert server.connections_total == 2
    assert any(
        "NOPE" in warning and "gateway.invalidrequest" in warning for warning in ctx.warnings
    )
