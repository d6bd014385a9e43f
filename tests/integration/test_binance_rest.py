"""REST history loaders against the local Binance REST fake."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.workers.binance import jobs
from app.workers.binance.errors import RequestRejected
from app.workers.binance.settings import BinanceTuning
from app.workers.binance.timerange import parse_time_range
from app.workers.weight_budget import budget_for
from tests.fakes.binance_job import LocalJobContext, job_env
from tests.fakes.binance_rest import FakeBinanceRest, TradeTape, kline_row

pytestmark = pytest.mark.timeout(10)
DAY0 = parse_time_range("2024-06-01:2024-06-01")[0]
FAST = BinanceTuning(retry_initial_s=0.01, retry_max_s=0.05, retry_jitter_s=0.01)


@pytest.fixture
async def fake() -> AsyncIterator[FakeBinanceRest]:
    server = FakeBinanceRest(tape=TradeTape(origin_ms=DAY0 + 5 * 3_600_000, gap_ms=60_000))
    await server.start()
    yield server
    await server.stop()


def context(
    fake: FakeBinanceRest,
    job_type: str,
    days: str,
    futures: bool = False,
    share: int | None = None,
    window: float = 60.0,
) -> Any:
    exchange = "binance-futures" if futures else "binance"
    url = {"binance_futures_rest_url" if futures else "binance_rest_url": fake.url}
    env = job_env(
        job_type,
        "BTCUSDT",
        exchange=exchange,
        time_range=days,
        binance_rest_weight_share=share,
        binance_rest_weight_window_seconds=window,
        **url,
    )
    return LocalJobContext(env)


def open_times(ctx: LocalJobContext) -> list[int]:
    return [r["open_time"] for r in ctx.sink.records]


@pytest.mark.parametrize(("futures", "page"), [(False, 1000), (True, 1500)])
async def test_klines_pages_have_no_gaps_or_duplicates(
    fake: FakeBinanceRest, futures: bool, page: int
) -> None:
    ctx = context(fake, "api_candles_1m", "2024-06-01:2024-06-02", futures)
    await jobs.run(ctx, FAST)
    assert open_times(ctx) == list(range(DAY0, DAY0 + 2 * 86_400_000, 60_000))
    assert [r["close"] for r in ctx.sink.records] == [
        kline_row(t, 60_000)[4] for t in open_times(ctx)
    ]
    pages = -(-2880 // page)
    assert [e.params["limit"] for e in fake.requests_to("/klines")] == [str(page)] * pages
    assert ctx.progress_calls[-1] == (2880, "2024-06-02T23:59:00.000Z")


@pytest.mark.parametrize("futures", [False, True])
async def test_agg_trades_match_the_tape_exactly(fake: FakeBinanceRest, futures: bool) -> None:
    ctx = context(fake, "api_trades", "2024-06-01:2024-06-01", futures)
    await jobs.run(ctx, FAST)
    day_end = DAY0 + 86_400_000
    expected = [a for a in range(0, 10_000) if fake.tape.time_of(a) < day_end]
    assert [int(r["trade_id"].removeprefix("agg:")) for r in ctx.sink.records] == expected
    assert ctx.progress_calls[-1][0] == len(ctx.sink.records) == 19 * 60 * 3
    windows = [e for e in fake.requests_to("/aggTrades") if "startTime" in e.params]
    assert len(windows) == 6  # five empty hours before the first trade
    bounds = [(r.get("bound_from_ms"), r.get("bound_to_ms")) for r in ctx.sink.records]
    assert bounds[0] == (DAY0, None) and bounds[-1] == (None, day_end - 1)
    assert set(bounds[1:-1]) == {(None, None)}, "only the range's first and last are bounds"


async def test_restart_resumes_without_duplicates(
    fake: FakeBinanceRest, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = context(fake, "api_agg_trades", "2024-06-01:2024-06-01")
    first.stop_after_records = 1000
    await jobs.run(first, FAST)
    written, last = first.progress_calls[-1]
    assert written == len(first.sink.records) < 3420
    monkeypatch.setenv("RESUME_FROM", str(last))
    second = context(fake, "api_agg_trades", "2024-06-01:2024-06-01")
    await jobs.run(second, FAST)
    ids = [r["id"] for r in first.sink.records + second.sink.records]
    assert len(ids) == len(set(ids)) == 3420


async def test_resume_from_iso_time_skips_loaded_candles(
    fake: FakeBinanceRest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESUME_FROM", "2024-06-01T23:00:00Z")
    ctx = context(fake, "api_candles_1m", "2024-06-01:2024-06-01")
    await jobs.run(ctx, FAST)
    assert open_times(ctx) == list(range(DAY0 + 23 * 3_600_000 + 60_000, DAY0 + 86_400_000, 60_000))


async def test_a_load_of_several_symbols_does_not_resume_and_loads_every_symbol_whole(
    fake: FakeBinanceRest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Symbols load in turn under one last_loaded_timestamp: resuming from it would skip
    the earlier hours of the symbols after the one that was loading."""
    monkeypatch.setenv("RESUME_FROM", "2024-06-01T23:00:00Z")
    env = job_env("api_candles_1h", "BTCUSDT,ETHUSDT", time_range="2024-06-01:2024-06-01")
    ctx: Any = LocalJobContext(env.model_copy(update={"binance_rest_url": fake.url}))
    await jobs.run(ctx, FAST)
    by_symbol = {
        s: [r for r in ctx.sink.records if r["symbol"] == s] for s in ("BTCUSDT", "ETHUSDT")
    }
    assert [len(rows) for rows in by_symbol.values()] == [24, 24]


@pytest.mark.parametrize("status", [429, 418])
async def test_retry_after_is_honoured(fake: FakeBinanceRest, status: int) -> None:
    fake.fail_next(status, retry_after=0.4)
    ctx = context(fake, "api_candles_1h", "2024-06-01:2024-06-01")
    await jobs.run(ctx, FAST)
    refused, retried = fake.requests_to("/klines")[:2]
    assert refused.status == status and retried.status == 200
    assert retried.at - refused.at >= 0.4
    assert len(ctx.sink.records) == 24


async def test_server_errors_are_retried_with_backoff(fake: FakeBinanceRest) -> None:
    fake.fail_next(503, times=3)
    ctx = context(fake, "api_candles_1h", "2024-06-01:2024-06-01")
    await jobs.run(ctx, FAST)
    assert [e.status for e in fake.log] == [503, 503, 503, 200]
    assert len(ctx.sink.records) == 24


async def test_bad_request_is_not_retried(fake: FakeBinanceRest) -> None:
    fake.fail_next(400)
    ctx = context(fake, "api_candles_1h", "2024-06-01:2024-06-01")
    with pytest.raises(RequestRejected):
        await jobs.run(ctx, FAST)
    assert len(fake.log) == 1


async def test_waits_for_the_next_window_when_the_ip_is_at_the_budget(
    fake: FakeBinanceRest,
) -> None:
    """Another user of our IP took the whole budget (X-MBX-USED-WEIGHT-1M says so): the
    loader sends nothing more in that window."""
    fake.weight_window_s = 0.5
    ctx = context(fake, "api_candles_1m", "2024-06-01:2024-06-07")
    ctx.env.binance_rest_weight_window_seconds = 0.5
    ctx.weight_budget = budget_for(ctx.env)  # a share far above the IP budget below
    ctx.weight_budget.budget = 10
    await jobs.run(ctx, FAST)
    assert len(fake.log) == 11
    assert all(e.status == 200 for e in fake.log)
    assert max(fake.used_weights) <= 10


async def test_paces_to_its_share(fake: FakeBinanceRest) -> None:
    fake.weight_window_s = 0.5
    ctx = context(fake, "api_candles_1m", "2024-06-01:2024-06-14", share=20, window=0.5)
    await jobs.run(ctx, FAST)
    assert len(fake.log) == 21  # 20,160 candles in pages of 1,000
    per_window = fake.weight_by_window()
    assert max(per_window.values()) <= 20, per_window
    assert fake.log[-1].at - fake.log[0].at >= 0.5 * (42 / 20 - 1)  # any pace under 20
    report = ctx.weight_budget.report()
    assert report is not None and report.share == 20 and report.used > 0


async def test_a_429_pauses_every_request_for_its_retry_after(fake: FakeBinanceRest) -> None:
    """The IP's limit is below the loader's share: Binance answers 429 with Retry-After;
    the loader waits it out and is never banned (418)."""
    fake.weight_window_s, fake.weight_limit, fake.enforce_limit = 0.5, 10, True
    ctx = context(fake, "api_candles_1m", "2024-06-01:2024-06-07", share=1000, window=0.5)
    await jobs.run(ctx, FAST)
    statuses = [e.status for e in fake.log]
    assert 429 in statuses and 418 not in statuses
    for refused, after in zip(fake.log, fake.log[1:], strict=False):
        if refused.status == 429:
            assert after.wall >= (refused.wall // 0.5 + 1) * 0.5 - 0.01
    assert len(ctx.sink.records) == 7 * 1440


async def test_stop_interrupts_a_ban_wait(fake: FakeBinanceRest) -> None:
    fake.fail_next(418, retry_after=30)
    ctx = context(fake, "api_candles_1h", "2024-06-01:2024-06-01")
    job = asyncio.create_task(jobs.run(ctx, FAST))
    await asyncio.wait_for(fake.requested.wait(), 2)
    ctx.stop_requested.set()
    await asyncio.wait_for(job, 1)
    assert ctx.sink.records == [] and len(fake.log) == 1
