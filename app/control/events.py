"""queue-events: one `queue.<status>` event per status change, whatever caused it, plus a
`queue.updated` event for progress without a status change (coalesced: at most one per
store write). Consumers that want the lifecycle only filter on `queue.<status>`.
Also publishes the `stop` command for a queue's jobs on queue-control."""

from __future__ import annotations

import uuid

from app.bus.kafka import encode_json
from app.control.outbox import Outbox
from app.models.messages import QueueEvent, StopCommand
from app.models.queues import QueueState
from app.services.changes import QueueChange


class EventPublisher:
    def __init__(self, outbox: Outbox, events_topic: str, control_topic: str) -> None:
        self._outbox = outbox
        self._events_topic = events_topic
        self._control_topic = control_topic

    async def on_change(self, change: QueueChange) -> None:
        """ChangeFeed listener: runs after the store write."""
        for event in events_of(change):
            self._outbox.put(self._events_topic, change.queue.id, encode_json(event))

    async def on_stop(self, queue: QueueState) -> None:
        """QueueService stop listener: tell the queue's jobs to stop."""
        command = StopCommand(command_id=str(uuid.uuid4()), queue_id=queue.id)
        self._outbox.put(self._control_topic, queue.id, encode_json(command))


def events_of(change: QueueChange) -> list[QueueEvent]:
    """One `queue.<status>` per status entered, or one `queue.updated` for progress only."""
    queue = change.queue
    data = queue.model_dump(mode="json")
    steps = change.steps
    if not steps:
        return [QueueEvent(event="queue.updated", queue_id=queue.id, status=queue.status,
                           ts=queue.updated_at, data=data)]
    return [QueueEvent(event=f"queue.{status.value}", queue_id=queue.id, status=status,
                       ts=queue.updated_at, data=data) for status in steps]
