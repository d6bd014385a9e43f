"""MOEX candle streams: the candles whose closes a dropped connection missed are found and
filled from the ISS candles endpoint (served by the fake on the gateway's host)."""

from __future__ import annotations

import pytest

from app.workers.moex.normalize import MOSCOW
from tests.fakes.moex_stomp import FIRST_CANDLE, FakeMoexServer
from tests.integration.test_moex_loader import FAST, context, running

pytestmark = pytest.mark.timeout(20)


def minute_ms(minute: int) -> int:
    return int(FIRST_CANDLE.replace(tzinfo=MOSCOW).timestamp() * 1000) + minute * 60_000


def minutes_of(records: list[dict[str, object]]) -> set[int]:
    start = minute_ms(0)
    return {(int(str(r["open_time"])) - start) // 60_000 for r in records}


async def test_candles_missed_while_disconnected_come_from_iss() -> None:
    async with FakeMoexServer() as server:
        ctx = context(server, "ws_candles", ["SBER"], moex_iss_url=server.iss_url)
        async with running(ctx, FAST):
            await ctx.collected.changes.wait_until(lambda: len(ctx.collected.of("candle")) == 2)
            server.advance(5)
            server.drop_all()
            await ctx.changes.wait_until(lambda: ctx.gaps.detected == 1 and ctx.gaps.open == 0)
    assert minutes_of(ctx.collected.of("candle")) == set(range(7)), "minutes 0 to 6, none left out"
    gap = ctx.gaps.gaps[0]
    assert (gap["first"], gap["last"]) == (minute_ms(1), minute_ms(5) - 1)
    assert (gap["key"], gap["state"], gap["backfilled"]) == ("open_time", "filled", 4)
    assert gap["stream"] == "MXSE.candles/MXSE.TQBR.SBER/M1"
    request, after = server.iss_requests
    assert after["start"] == "4", "pages on by start until a page is empty"
    assert (
        request["path"]
        == "/iss/engines/stock/markets/shares/boards/TQBR/securities/SBER/candles.json"
    )
    assert (request["from"], request["till"], request["interval"]) == (
        "2026-01-22 09:59:00",
        "2026-01-22 10:02:59",
        "1",
    )
    filled = [r for r in ctx.collected.of("candle") if r["open_time"] == minute_ms(3)]
    assert (filled[0]["open"], filled[0]["close"]) == ("306.03", "306.04"), "exact, as ISS sent"


async def test_a_snapshot_that_covers_the_drop_leaves_no_gap() -> None:
    async with FakeMoexServer() as server:
        ctx = context(server, "ws_candles", ["SBER"], moex_iss_url=server.iss_url)
        async with running(ctx, FAST):
            await ctx.collected.changes.wait_until(lambda: len(ctx.collected.of("candle")) == 2)
            server.drop_all()
            await server.wait_until(lambda: server.connections_total == 2)
            await ctx.collected.changes.wait_until(lambda: len(ctx.collected.of("candle")) == 4)
    assert ctx.gaps.detected == 0 and server.iss_requests == []


async def test_an_iss_that_refuses_leaves_the_gap_open_and_says_why() -> None:
    async with FakeMoexServer() as server:
        ctx = context(server, "ws_candles", ["SBER"], moex_iss_url=server.iss_url + "/nowhere")
        async with running(ctx, FAST):
            await ctx.collected.changes.wait_until(lambda: len(ctx.collected.of("candle")) == 2)
            server.advance(3)
            server.drop_all()
            await ctx.changes.wait_until(
                lambda: bool(ctx.gaps.gaps) and ctx.gaps.gaps[0]["state"] == "failed"
            )
    assert ctx.gaps.open == 1 and "ISS answered 404" in (ctx.gaps.gaps[0]["reason"] or "")
