"""Cron expressions in a time zone, through cronsim (see docs/architecture.md, Schedules).

Five fields (minute hour day-of-month month day-of-week) or six with seconds first. Slots are
computed in the schedule's own zone and handed out as UTC instants. Daylight saving follows
Debian cron, as cronsim does: a time the clocks jump over runs right after the jump, a time
that happens twice runs once (its first occurrence).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

MAX_CRON_CHARS = 120
ONE_SECOND = timedelta(seconds=1)


def zone(name: str) -> ZoneInfo:
    """The IANA zone; ValueError names what is wrong."""
    try:
        return _zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name like Europe/Berlin"
        ) from None


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    if not name or name != name.strip() or len(name) > 64:
        raise ValueError(name)
    return ZoneInfo(name)


def check(expression: str) -> str:
    """The expression, normalised to single spaces; ValueError says why it is no cron."""
    fields = expression.split()
    if len(fields) not in (5, 6):
        raise ValueError(
            f"expected 5 fields (minute hour day month weekday) or 6 with seconds first, "
            f"got {len(fields)}"
        )
    normal = " ".join(fields)
    try:
        next(CronSim(normal, datetime(2000, 1, 1, tzinfo=UTC)))
    except CronSimError as error:
        raise ValueError(f"{error}".lower() + f" in {normal!r}") from None
    except StopIteration:
        raise ValueError(f"{normal!r} never fires") from None
    return normal


def explain(expression: str) -> str:
    """The expression in words ("At 01:00 on the first day of every month")."""
    return CronSim(expression, datetime(2000, 1, 1, tzinfo=UTC)).explain()


def slots_after(expression: str, zone_name: str, after: datetime) -> Iterator[datetime]:
    """Every slot strictly after `after`, ascending, as UTC instants."""
    local = after.astimezone(zone(zone_name))
    return (slot.astimezone(UTC) for slot in _iterate(expression, local, reverse=False))


def slots_until(expression: str, zone_name: str, until: datetime) -> Iterator[datetime]:
    """Every slot at or before `until`, newest first, as UTC instants."""
    whole = until.replace(microsecond=0)
    local = whole.astimezone(zone(zone_name))
    older = (slot.astimezone(UTC) for slot in _iterate(expression, local, reverse=True))
    if next_slot(expression, zone_name, whole - ONE_SECOND) == whole:
        return itertools.chain([whole], older)  # reverse iteration starts strictly before
    return older


def next_slot(expression: str, zone_name: str, after: datetime) -> datetime | None:
    return next(slots_after(expression, zone_name, after), None)


def _iterate(expression: str, start: datetime, reverse: bool) -> Iterator[datetime]:
    try:
        yield from CronSim(expression, start, reverse=reverse)
    except StopIteration:  # cronsim gives up after 50 years without a match
        return
