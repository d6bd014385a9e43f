"""One contract for every CoverageStore adapter: SQLite, ArangoDB through the fake server in
every run, and a real ArangoDB too when ARANGO_URL is set."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from app.coverage.days import DayRecord, Failure, Series, SeriesFilter, day_start_ms
from app.coverage.runs import Run
from app.store.base import CoverageStore
from app.store.sqlite_coverage import SqliteCoverageStore
from tests.fakes.arango_http import FakeArango
from tests.fixtures.arango import ARANGO_KINDS, arango_settings, fresh_database, server_url

pytestmark = pytest.mark.timeout(20)
DAY = date(2024, 1, 1)
MINUTE = 60_000


@pytest.fixture(params=["sqlite", *ARANGO_KINDS])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, fake_arango: FakeArango
) -> AsyncIterator[CoverageStore]:
    if request.param == "sqlite":
        adapter: CoverageStore = SqliteCoverageStore(tmp_path / "store.db")
        await adapter.open()
        yield adapter
        await adapter.close()
        return
    from app.store.arango_coverage import ArangoCoverageStore

    url = server_url(request.param, fake_arango)
    async with fresh_database(url, create=False) as database:
        adapter = ArangoCoverageStore(arango_settings(url, database))
        await adapter.open()
        yield adapter
        await adapter.close()


def minutes(first: int, last: int, day: date = DAY, symbol: str = "BTCUSDT") -> DayRecord:
    """Candles of minutes first..last of `day`, landed in collection `c`."""
    base = day_start_ms(day)
    run = Run(
        base + first * MINUTE,
        base + last * MINUTE,
        base + first * MINUTE,
        base + (last + 1) * MINUTE - 1,
    )
    return DayRecord("binance", symbol, "candles_1m", day, [run], run.first, run.first, ["c"])


def series(symbol: str = "BTCUSDT", data_type: str = "candles_1m") -> Series:
    return Series("binance", symbol, data_type, DAY, DAY)


async def test_a_merged_day_reads_back_as_merged(store: CoverageStore) -> None:
    await store.merge([minutes(0, 9)])
    [day] = await store.days(series(), DAY, DAY)
    assert day == minutes(0, 9)


async def test_merges_are_unions_that_count_nothing_twice(store: CoverageStore) -> None:
    await store.merge([minutes(0, 9)])
    await store.merge([minutes(5, 19), minutes(5, 19)])
    await store.merge([minutes(0, 9)])
    [day] = await store.days(series(), DAY, DAY)
    assert day.runs == minutes(0, 19).runs and day.collections == ["c"]


async def test_concurrent_merges_of_one_day_all_land(store: CoverageStore) -> None:
    await asyncio.gather(*(store.merge([minutes(m, m)]) for m in range(0, 40, 2)))
    [day] = await store.days(series(), DAY, DAY)
    assert [run.first for run in day.runs] == [
        day_start_ms(DAY) + m * MINUTE for m in range(0, 40, 2)
    ]


async def test_days_are_read_within_the_range_in_order(store: CoverageStore) -> None:
    days = [DAY + timedelta(days=n) for n in (3, 0, 1, 5)]
    await store.merge([minutes(0, 0, day) for day in days])
    found = await store.days(series(), DAY + timedelta(days=1), DAY + timedelta(days=3))
    assert [d.day for d in found] == [DAY + timedelta(days=1), DAY + timedelta(days=3)]


async def test_series_are_listed_with_their_first_and_last_day(store: CoverageStore) -> None:
    await store.merge([minutes(0, 0, DAY + timedelta(days=2)), minutes(0, 0, DAY, "ETHUSDT")])
    await store.merge([minutes(0, 0, DAY + timedelta(days=7))])
    everything = await store.series(SeriesFilter(), limit=10)
    assert everything == [
        Series(
            "binance", "BTCUSDT", "candles_1m", DAY + timedelta(days=2), DAY + timedelta(days=7)
        ),
        Series("binance", "ETHUSDT", "candles_1m", DAY, DAY),
    ]
    assert await store.series(SeriesFilter(symbol="ETHUSDT"), limit=10) == everything[1:]
    assert await store.series(SeriesFilter(data_type="trades"), limit=10) == []
    assert await store.series(SeriesFilter(exchange="binance"), limit=1) == everything[:1]


async def test_the_newer_failure_is_kept(store: CoverageStore) -> None:
    older, newer = (
        DayRecord("binance", "BTCUSDT", "candles_1m", DAY),
        DayRecord("binance", "BTCUSDT", "candles_1m", DAY),
    )
    older.failure, newer.failure = Failure("first", "q1", 1), Failure("second", "q2", 2)
    await store.merge([newer])
    await store.merge([older])
    [day] = await store.days(series(), DAY, DAY)
    assert day.failure == Failure("second", "q2", 2) and not day.landed


async def test_opening_again_keeps_what_is_there(store: CoverageStore) -> None:
    await store.merge([minutes(0, 0)])
    await store.open()
    assert len(await store.days(series(), DAY, DAY)) == 1
