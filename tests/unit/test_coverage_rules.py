"""The day rules of the coverage map (docs/architecture.md, "Coverage") on hand-made days."""

from __future__ import annotations

from datetime import date, timedelta

from app.coverage.days import DayRecord, Failure, day_start_ms, merged
from app.coverage.rules import Neighbours, day_coverage
from app.coverage.runs import Run, key_count, merge_runs
from app.models.coverage import SERIES_KINDS, DayState

DAY = date(2024, 1, 2)
START = day_start_ms(DAY)
HOUR = 3_600_000
CANDLES = SERIES_KINDS["candles_1h"]
AGG = SERIES_KINDS["agg_trades"]
ALONE = Neighbours(None, None)


def candles(first_hour: int, last_hour: int, day: date = DAY) -> Run:
    start = day_start_ms(day)
    return Run(
        start + first_hour * HOUR,
        start + last_hour * HOUR,
        start + first_hour * HOUR,
        start + (last_hour + 1) * HOUR - 1,
    )


def record(*runs: Run, day: date = DAY, data_type: str = "candles_1h") -> DayRecord:
    first = min((r.first for r in runs), default=None)
    return DayRecord("binance", "BTCUSDT", data_type, day, list(runs), first, first)


def test_every_slot_of_the_day_makes_it_complete() -> None:
    view = day_coverage(DAY, record(candles(0, 23)), ALONE, CANDLES)
    assert view.state is DayState.COMPLETE and view.count == 24 and view.missing == []


def test_candles_cut_off_in_the_afternoon_leave_the_rest_missing_with_its_open_times() -> None:
    view = day_coverage(DAY, record(candles(0, 15)), ALONE, CANDLES)
    assert view.state is DayState.PARTIAL and view.count == 16
    [span] = view.missing
    assert (span.from_ms, span.to_ms) == (START + 16 * HOUR, START + 24 * HOUR - 1)
    assert (span.first, span.last, span.key) == (START + 16 * HOUR, START + 23 * HOUR, "open_time")
    assert span.start == "2024-01-02T16:00:00.000Z" and span.end == "2024-01-02T23:59:59.999Z"


def test_a_hole_between_candles_is_named_by_its_open_times() -> None:
    view = day_coverage(DAY, record(candles(0, 4), candles(7, 23)), ALONE, CANDLES)
    assert view.state is DayState.PARTIAL and view.count == 22
    assert [(s.first, s.last) for s in view.missing] == [(START + 5 * HOUR, START + 6 * HOUR)]


def test_nothing_landed_is_missing_and_failed_when_a_load_of_it_failed() -> None:
    assert day_coverage(DAY, None, ALONE, CANDLES).state is DayState.MISSING
    failed = record()
    failed.failure = Failure("source loader ended error", "q1", 1)
    view = day_coverage(DAY, failed, ALONE, CANDLES)
    assert view.state is DayState.FAILED and view.reason == "source loader ended error"


def trades(first: int, last: int, low: int, high: int) -> Run:
    """Trades first..last landed; they prove the time from `low` to `high` (ms of DAY)."""
    return Run(first, last, START + low, START + high)


def test_contiguous_trades_without_bounds_prove_only_the_time_between_them() -> None:
    view = day_coverage(
        DAY, record(trades(100, 200, 5_001, 86_000_000), data_type="agg_trades"), ALONE, AGG
    )
    assert view.state is DayState.PARTIAL and view.count == 101
    head, tail = view.missing
    assert (head.from_ms, head.to_ms, head.first, head.last) == (START, START + 5_000, None, 99)
    assert (tail.from_ms, tail.first, tail.last) == (START + 86_000_001, 201, None)


def test_bounds_the_loader_proved_make_a_day_of_contiguous_trades_complete() -> None:
    whole = trades(100, 200, 0, 86_400_000 - 1)
    assert day_coverage(DAY, record(whole, data_type="agg_trades"), ALONE, AGG).state is (
        DayState.COMPLETE
    )


def test_keys_that_carry_on_across_midnight_prove_the_day_edges() -> None:
    before = DayRecord(
        "binance", "BTCUSDT", "agg_trades", DAY - timedelta(days=1), [Run(1, 99, 0, 1)]
    )
    after = DayRecord(
        "binance", "BTCUSDT", "agg_trades", DAY + timedelta(days=1), [Run(201, 300, 0, 1)]
    )
    today = record(trades(100, 200, 10, 20), data_type="agg_trades")
    assert day_coverage(DAY, today, Neighbours(before, after), AGG).state is DayState.COMPLETE
    only_before = day_coverage(DAY, today, Neighbours(before, None), AGG)
    assert only_before.state is DayState.PARTIAL
    assert [(s.from_ms - START, s.first) for s in only_before.missing] == [(21, 201)]


def test_a_hole_in_the_ids_is_missing_with_the_ids_it_lacks() -> None:
    day = record(
        trades(100, 150, 0, 40_000_000),
        trades(161, 200, 40_100_000, 86_399_999),
        data_type="agg_trades",
    )
    view = day_coverage(DAY, day, ALONE, AGG)
    assert view.state is DayState.PARTIAL and view.count == 91
    assert [(s.first, s.last) for s in view.missing] == [(151, 160)]


def test_runs_merge_by_union_whatever_the_order_or_repetition() -> None:
    pieces = [Run(1, 3, 10, 30), Run(4, 4, 41, 39), Run(8, 9, 80, 90), Run(2, 5, 20, 50)]
    merged_once = merge_runs(pieces, 1)
    assert merged_once == [Run(1, 5, 10, 50), Run(8, 9, 80, 90)]
    assert merge_runs([*reversed(pieces), *pieces], 1) == merged_once
    assert key_count(merged_once, 1) == 7


def test_merging_a_day_twice_changes_nothing_more() -> None:
    stored = record(candles(0, 3))
    update = record(candles(2, 9))
    update.collections = ["c1"]
    once = merged(stored, update)
    assert merged(once, update) == once
    assert once.runs == [candles(0, 9)] and once.collections == ["c1"]
