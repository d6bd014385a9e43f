"""queue-events: one `queue.<status>` event per status change, whatever caused it, plus a
`queue.updated` event for progress without a status change (coalesced: at most one per
store write), plus `schedule.triggered|skipped|failed` for each decided run of a schedule,
plus `coverage.updated` after each merge of a connector's coverage report (which series and
days changed: readers fetch GET /coverage). Consumers that want the lifecycle only filter
on `queue.<status>`.
Also publishes the `stop` command for a queue's jobs and `weight_share` commands for
Binance loaders on queue-control.

Events have the shape of `QueueEvent` but are encoded around the queue's JSON document:
a generic dump of the `data` dict cost three times as much, and under load there is an
event for every queue written by every poll of the dispatcher.
"""

from __future__ import annotations

import uuid

import orjson

from app.bus import encode_json
from app.control.outbox import Outbox
from app.coverage.service import CoverageChange
from app.models.messages import StopCommand, WeightShareCommand
from app.models.queues import QueueState, queue_json, utcnow
from app.models.status import Status
from app.schedules.events import ScheduleEvent, event_json
from app.services.changes import QueueChange


class EventPublisher:
    def __init__(self, outbox: Outbox, events_topic: str, control_topic: str) -> None:
        self._outbox = outbox
        self._events_topic = events_topic
        self._control_topic = control_topic

    async def on_change(self, change: QueueChange) -> None:
        """ChangeFeed listener: runs after the store write."""
        for event in events_of(change):
            self._outbox.put(self._events_topic, change.queue.id, event)

    async def on_schedule(self, event: ScheduleEvent) -> None:
        """Runs listener: a schedule's triggered, skipped or failed run (key: its id)."""
        self._outbox.put(self._events_topic, event.schedule.id, event_json(event))

    async def on_coverage(self, change: CoverageChange) -> None:
        """Coverage listener: after a report is merged (key: the reporting queue)."""
        self._outbox.put(self._events_topic, change.queue_id, coverage_event(change))

    async def on_stop(self, queue: QueueState) -> None:
        """QueueService stop listener: tell the queue's jobs to stop."""
        command = StopCommand(command_id=str(uuid.uuid4()), queue_id=queue.id)
        self._outbox.put(self._control_topic, queue.id, encode_json(command))

    def on_share(self, command: WeightShareCommand) -> None:
        """Tell one loader its weight share (app/services/weight_shares.py)."""
        self._outbox.put(self._control_topic, command.queue_id, encode_json(command))


def events_of(change: QueueChange) -> list[bytes]:
    """One `queue.<status>` per status entered, or one `queue.updated` for progress only."""
    queue, steps = change.queue, change.steps
    document = orjson.Fragment(queue_json(queue))
    if not steps:
        return [_encoded("queue.updated", queue, queue.status, document)]
    return [_encoded(f"queue.{status.value}", queue, status, document) for status in steps]


def _encoded(name: str, queue: QueueState, status: Status, document: orjson.Fragment) -> bytes:
    return orjson.dumps(
        {
            "event": name,
            "queue_id": queue.id,
            "status": status,
            "ts": queue.updated_at,
            "data": document,
        },
        option=orjson.OPT_UTC_Z,
    )


def coverage_event(change: CoverageChange) -> bytes:
    """`coverage.updated`: per series, the first and last day that changed."""
    series = [
        {
            "exchange": exchange,
            "symbol": symbol,
            "type": data_type,
            "first_day": min(days),
            "last_day": max(days),
        }
        for (exchange, symbol, data_type), days in sorted(change.days.items())
        if days
    ]
    event = {"event": "coverage.updated", "queue_id": change.queue_id, "series": series}
    return orjson.dumps({**event, "ts": utcnow()}, option=orjson.OPT_UTC_Z)
