"""What a schedule tells the world: `schedule.triggered`, `schedule.skipped` and
`schedule.failed`, published on queue-events (key = schedule id) and fanned out over the
WebSocket. Listeners run after the store write that decided the run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

import orjson

from app.models.schedules import ScheduleRun, ScheduleState


class ScheduleEventKind(StrEnum):
    TRIGGERED = "schedule.triggered"
    SKIPPED = "schedule.skipped"
    FAILED = "schedule.failed"


@dataclass(frozen=True)
class ScheduleEvent:
    kind: ScheduleEventKind
    schedule: ScheduleState
    run: ScheduleRun


ScheduleListener = Callable[[ScheduleEvent], Awaitable[None]]


def event_json(event: ScheduleEvent) -> bytes:
    """The queue-events record. `run` (not `data`) holds the run: consumers that read
    `data` as a queue's state meet no schedule record there."""
    run = event.run
    return orjson.dumps(
        {
            "event": event.kind.value,
            "schedule_id": event.schedule.id,
            "schedule": event.schedule.name,
            "queue_id": run.queue_id,
            "slot": run.slot,
            "outcome": run.outcome.value,
            "reason": run.reason,
            "ts": run.started_at or run.decided_at,
            "run": run.model_dump(mode="json"),
        },
        option=orjson.OPT_UTC_Z,
    )
