"""Cron slots in a time zone, relative time ranges and the slot plan (catch-up): pure rules."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from app.api.errors import field_problems
from app.models.schedules import ScheduleCreate, SchedulePatch, ScheduleState
from app.schedules import cron
from app.schedules.planning import plan, upcoming
from app.schedules.ranges import resolve

BERLIN, NEW_YORK = "Europe/Berlin", "America/New_York"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[arg-type,misc]


def first(expression: str, zone: str, after: datetime, n: int) -> list[datetime]:
    return list(itertools.islice(cron.slots_after(expression, zone, after), n))


def test_a_seconds_field_comes_first() -> None:
    assert first("*/20 * * * * *", "UTC", utc(2026, 1, 1, 12), 3) == [
        utc(2026, 1, 1, 12, 0, 20),
        utc(2026, 1, 1, 12, 0, 40),
        utc(2026, 1, 1, 12, 1, 0),
    ]


def test_slots_are_local_times_in_the_zone_handed_out_in_utc() -> None:
    """00:05 in Berlin is 23:05 UTC in winter, 22:05 UTC in summer."""
    assert first("5 0 * * *", BERLIN, utc(2026, 1, 10), 1) == [utc(2026, 1, 10, 23, 5)]
    assert first("5 0 * * *", BERLIN, utc(2026, 7, 10), 1) == [utc(2026, 7, 10, 22, 5)]


def test_daylight_saving_a_skipped_time_runs_after_the_jump_a_repeated_one_once() -> None:
    spring = first("30 2 * * *", BERLIN, utc(2026, 3, 28, 12), 2)
    assert spring == [utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)], "03:00 CEST, then 02:30"
    autumn = first("30 2 * * *", BERLIN, utc(2026, 10, 24, 12), 2)
    assert autumn == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)], "first 02:30 only"


def test_slots_until_includes_the_instant_itself_newest_first() -> None:
    got = list(
        itertools.islice(cron.slots_until("*/10 * * * * *", "UTC", utc(2026, 1, 1, 0, 0, 30)), 3)
    )
    assert got == [utc(2026, 1, 1, 0, 0, 30), utc(2026, 1, 1, 0, 0, 20), utc(2026, 1, 1, 0, 0, 10)]


@pytest.mark.parametrize(
    ("value", "slot", "zone", "expected"),
    [
        ("today", utc(2026, 3, 10, 12), "UTC", "2026-03-10:2026-03-10"),
        ("yesterday", utc(2026, 3, 10, 12), "UTC", "2026-03-09:2026-03-09"),
        ("last_7_days", utc(2026, 3, 10, 12), "UTC", "2026-03-03:2026-03-09"),
        ("previous_month", utc(2026, 3, 10, 12), "UTC", "2026-02-01:2026-02-28"),
        ("previous_month", utc(2026, 1, 1, 12), "UTC", "2025-12-01:2025-12-31"),
        ("2024-01-01:2024-01-31", utc(2026, 3, 10), "UTC", "2024-01-01:2024-01-31"),
        # 00:05 in Berlin on the 10th is still the 9th in UTC: the zone's date counts
        ("yesterday", utc(2026, 3, 9, 23, 5), BERLIN, "2026-03-09:2026-03-09"),
        # 01:00 on 1 April in Berlin, the day after clocks went forward (22:00 UTC, 31 March)
        ("previous_month", utc(2026, 3, 31, 23, 0), BERLIN, "2026-03-01:2026-03-31"),
        ("previous_month", utc(2026, 3, 31, 23, 0), "UTC", "2026-02-01:2026-02-28"),
        ("previous_month", utc(2026, 3, 31, 22, 30), BERLIN, "2026-03-01:2026-03-31"),
        ("previous_month", utc(2026, 3, 31, 22, 30), "UTC", "2026-02-01:2026-02-28"),
    ],
)
def test_relative_ranges_resolve_in_the_schedules_zone(
    value: str, slot: datetime, zone: str, expected: str
) -> None:
    assert resolve(value, slot, zone) == expected


def test_relative_ranges_across_a_dst_change_follow_the_local_calendar() -> None:
    """A daily 00:30 New York schedule over the spring change (8 March 2026): every slot
    loads exactly the local day before it, though the slots are 23, then 24 hours apart."""
    slots = first("30 0 * * *", NEW_YORK, utc(2026, 3, 7, 12), 3)
    assert [b - a for a, b in itertools.pairwise(slots)] == [
        timedelta(hours=23),
        timedelta(hours=24),
    ]
    got = [resolve("yesterday", slot, NEW_YORK) for slot in slots]
    assert got == ["2026-03-07:2026-03-07", "2026-03-08:2026-03-08", "2026-03-09:2026-03-09"]


BODY: dict[str, Any] = {
    "name": "nightly",
    "cron": "5 0 * * *",
    "queue": {"symbol": "BTCUSDT", "type": "api", "time_range": "yesterday"},
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"cron": "5 0 * *"}, "cron"),
        ({"cron": "61 0 * * *"}, "cron"),
        ({"cron": "0 0 30 2 *"}, "cron"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"queue": {**BODY["queue"], "time_range": "last_week"}}, "queue.time_range"),
        ({"queue": {**BODY["queue"], "symbol": "B@D"}}, "queue.symbol"),
        ({"name": "bad/name"}, "name"),
        ({"concurrency": "sometimes"}, "concurrency"),
        ({"catch_up": "some"}, "catch_up"),
        ({"catch_up_limit": 0}, "catch_up_limit"),
    ],
)
def test_invalid_schedules_name_the_field(change: dict[str, Any], field: str) -> None:
    """As the 422 answer names them (app/api/errors.py)."""
    with pytest.raises(ValidationError) as caught:
        ScheduleCreate.model_validate({**BODY, **change})
    assert [p["field"] for p in field_problems(caught.value.errors())] == [field]


def test_a_patch_may_not_null_a_field() -> None:
    with pytest.raises(ValidationError, match="may not be null"):
        SchedulePatch.model_validate({"cron": None})
    assert SchedulePatch.model_validate({"enabled": False}).changes() == {"enabled": False}


def schedule(cursor: datetime, **extra: Any) -> ScheduleState:
    return ScheduleState.model_validate(
        {**BODY, "cron": "*/10 * * * * *", "id": "s", "cursor": cursor, **extra}
    )


GRACE = timedelta(seconds=60)
T0 = utc(2026, 5, 1, 12)


def test_on_time_slots_run_each_once_in_order() -> None:
    due = plan(schedule(T0), T0 + timedelta(seconds=25), GRACE)
    assert due.run == [T0 + timedelta(seconds=10), T0 + timedelta(seconds=20)]
    assert due.missed == 0
    assert plan(schedule(T0 + timedelta(seconds=20)), T0 + timedelta(seconds=25), GRACE).run == []


@pytest.mark.parametrize(
    ("catch_up", "late_runs", "missed"),
    [("none", 0, 30), ("last", 0, 30), ("all", 5, 25)],
)
def test_slots_missed_while_down_follow_catch_up(
    catch_up: str, late_runs: int, missed: int
) -> None:
    """Down from T0 to T0+6 min: 30 slots are late beyond the grace, 6 on time (which run;
    `last` needs no late one then)."""
    now = T0 + timedelta(minutes=6)
    due = plan(schedule(T0, catch_up=catch_up, catch_up_limit=5), now, GRACE)
    late = [slot for slot in due.run if now - slot >= GRACE]
    on_time = [slot for slot in due.run if now - slot < GRACE]
    assert (len(late), len(on_time), due.missed) == (late_runs, 6, missed)
    assert due.run == sorted(due.run)
    assert due.last_missed == T0 + timedelta(seconds=10 * missed)


def test_catch_up_last_runs_the_newest_missed_slot_when_none_is_on_time() -> None:
    hourly = schedule(T0, cron="0 * * * *", catch_up="last")
    due = plan(hourly, T0 + timedelta(hours=5, minutes=30), GRACE)
    assert due.run == [T0 + timedelta(hours=5)]
    assert (due.missed, due.last_missed) == (4, T0 + timedelta(hours=4))


def test_catch_up_all_runs_the_newest_ones_oldest_first_and_skips_older() -> None:
    hourly = schedule(T0, cron="0 * * * *", catch_up="all", catch_up_limit=2)
    due = plan(hourly, T0 + timedelta(hours=5, minutes=30), GRACE)
    assert due.run == [T0 + timedelta(hours=4), T0 + timedelta(hours=5)]
    assert (due.missed, due.last_missed) == (3, T0 + timedelta(hours=3))


def test_a_clock_that_went_back_runs_nothing_again() -> None:
    assert plan(schedule(T0 + timedelta(hours=1)), T0, GRACE).run == []


def test_the_next_run_is_after_now_and_the_cursor_and_none_while_disabled() -> None:
    assert upcoming(schedule(T0), T0 + timedelta(seconds=1)) == T0 + timedelta(seconds=10)
    assert upcoming(schedule(T0 + timedelta(seconds=30)), T0) == T0 + timedelta(seconds=40)
    assert upcoming(schedule(T0, enabled=False), T0) is None
