"""Relative time ranges of a schedule's queue template, resolved for one slot.

A name is resolved against the slot's date in the schedule's own time zone (not UTC, not
the moment the scheduler happens to run), so a late or caught-up slot loads the same days
it would have loaded on time:
  today          the slot's day
  yesterday      the day before
  last_7_days    the seven whole days before the slot's day
  previous_month the whole calendar month before the slot's month
An explicit `YYYY-MM-DD:YYYY-MM-DD` stays as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from enum import StrEnum

from app.models.queues import parse_time_range
from app.schedules.cron import zone


class RelativeRange(StrEnum):
    TODAY = "today"
    YESTERDAY = "yesterday"
    LAST_7_DAYS = "last_7_days"
    PREVIOUS_MONTH = "previous_month"


RELATIVE = frozenset(name.value for name in RelativeRange)


def _previous_month(day: date) -> tuple[date, date]:
    last = day.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


_RESOLVE: dict[RelativeRange, Callable[[date], tuple[date, date]]] = {
    RelativeRange.TODAY: lambda day: (day, day),
    RelativeRange.YESTERDAY: lambda day: (day - timedelta(days=1), day - timedelta(days=1)),
    RelativeRange.LAST_7_DAYS: lambda day: (day - timedelta(days=7), day - timedelta(days=1)),
    RelativeRange.PREVIOUS_MONTH: _previous_month,
}


def check_range(value: str) -> str:
    """A relative name or an explicit range; ValueError says what is accepted."""
    if value in RELATIVE:
        return value
    try:
        parse_time_range(value)
    except ValueError as error:
        names = ", ".join(RelativeRange)
        raise ValueError(f"{error}; or one of {names}") from None
    return value


def resolve(value: str, slot: datetime, zone_name: str) -> str:
    """The explicit range `value` stands for at `slot` in the zone `zone_name`."""
    if value not in RELATIVE:
        return value
    day = slot.astimezone(zone(zone_name)).date()
    start, end = _RESOLVE[RelativeRange(value)](day)
    return f"{start.isoformat()}:{end.isoformat()}"
