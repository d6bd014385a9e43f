"""Which slots of a schedule are due now, and which of them run (pure).

Slots after the cursor up to now are due. A slot at most `grace` old is on time and runs. An
older one was missed (the service was down, or the clock jumped ahead) and follows
`catch_up`: `none` runs none of them, `last` runs the newest unless an on-time slot runs
anyway, `all` runs the newest `catch_up_limit` of them, oldest first. The others are
recorded together as one skipped record.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.models.schedules import CatchUp, ScheduleState
from app.schedules import cron

MAX_COUNTED = 10_000
"""Missed slots are counted up to this many (a seconds schedule down for days)."""


@dataclass(frozen=True)
class SlotPlan:
    run: list[datetime] = field(default_factory=list)
    """Slots to run, oldest first."""
    missed: int = 0
    """Late slots that will not run."""
    last_missed: datetime | None = None


def plan(schedule: ScheduleState, now: datetime, grace: timedelta) -> SlotPlan:
    """The slots in (cursor, now] and what becomes of each."""
    horizon = max(schedule.cursor, now - grace)
    on_time = list(
        itertools.takewhile(
            lambda slot: slot <= now, cron.slots_after(schedule.cron, schedule.timezone, horizon)
        )
    )
    late = _late(schedule, horizon)
    keep = _kept(schedule, late, bool(on_time))
    missed = late[keep:]
    return SlotPlan(
        run=[*reversed(late[:keep]), *on_time],
        missed=len(missed),
        last_missed=missed[0] if missed else None,
    )


def _late(schedule: ScheduleState, horizon: datetime) -> list[datetime]:
    """Slots in (cursor, horizon], newest first, at most MAX_COUNTED."""
    if horizon <= schedule.cursor:
        return []
    older = cron.slots_until(schedule.cron, schedule.timezone, horizon)
    after_cursor = itertools.takewhile(lambda slot: slot > schedule.cursor, older)
    return list(itertools.islice(after_cursor, MAX_COUNTED))


def _kept(schedule: ScheduleState, late: list[datetime], on_time: bool) -> int:
    """How many of the late slots (newest first) run."""
    if schedule.catch_up is CatchUp.ALL:
        return min(len(late), schedule.catch_up_limit)
    if schedule.catch_up is CatchUp.LAST and not on_time:
        return min(len(late), 1)
    return 0


def upcoming(schedule: ScheduleState, now: datetime) -> datetime | None:
    """The next slot after now (and after the cursor); None while disabled."""
    if not schedule.enabled:
        return None
    return cron.next_slot(schedule.cron, schedule.timezone, max(now, schedule.cursor))
