"""Change notification: after every stored change the listeners learn what moved.

Listeners (the queue-events publisher, the WebSocket hub, metrics) run after the store
write; a failing listener is logged and never undoes or blocks the change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from app.models.queues import QueueState
from app.models.status import Status

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class QueueChange:
    queue: QueueState
    previous: Status | None
    """The status before the change; None for a new queue."""
    passed: tuple[Status, ...] = ()
    """Statuses the queue went through on the way, in order, when one write coalesced
    several reports (so none of them goes unannounced); the last is the current one."""

    @property
    def steps(self) -> list[Status]:
        """Every status entered by this change, in order, the current one last."""
        steps: list[Status] = []
        for status in (*self.passed, self.queue.status):
            if status != (steps[-1] if steps else self.previous):
                steps.append(status)
        return steps


Listener = Callable[[QueueChange], Awaitable[None]]


class ChangeFeed:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def publish(self, change: QueueChange) -> None:
        for listener in self._listeners:
            try:
                await listener(change)
            except Exception:
                log.exception("change listener failed", queue_id=change.queue.id)
