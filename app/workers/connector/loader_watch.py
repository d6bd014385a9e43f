"""Learn from queue-control telemetry how the loader feeding this connector ended (its
last attempt: a failed attempt with attempts left is retried, so the connector waits on).

No consumer group (like the stop watch): every partition is read from the beginning, since
the loader may have ended before the connector started. `poll` never blocks for long, so
the copier calls it between batches instead of running another task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import TopicPartition

from app.bus import Bus, Consumer, broker_errors
from app.errors import InvalidMessage
from app.models.messages import decode_telemetry
from app.models.status import Status, is_terminal

log = structlog.get_logger("app.workers.connector")


@dataclass(frozen=True)
class LoaderEnd:
    status: Status
    error_message: str | None = None

    @property
    def failed(self) -> bool:
        return self.status is not Status.FINISHED


def loader_end_of(value: bytes | None, queue_id: str, job: str) -> LoaderEnd | None:
    """The loader's final telemetry as a LoaderEnd; anything else (or junk) is None."""
    if value is None:
        return None
    try:
        telemetry = decode_telemetry(value)
    except InvalidMessage:
        return None
    if telemetry.queue_id != queue_id or telemetry.job != job:
        return None
    if not is_terminal(telemetry.status) or telemetry.retried:
        return None  # running, or a failed attempt the service tries again
    return LoaderEnd(telemetry.status, telemetry.error_message)


class LoaderWatch:
    """Reads queue-control until the final telemetry of `job` in `queue_id` shows up."""

    def __init__(self, bus: Bus, topic: str, queue_id: str, job: str) -> None:
        self.bus, self.topic, self.queue_id, self.job = bus, topic, queue_id, job
        self.end: LoaderEnd | None = None
        self._consumer: Consumer | None = None

    async def start(self) -> None:
        consumer = self.bus.consumer([], group_id=None, enable_auto_commit=False)
        self._consumer = consumer
        with broker_errors("watch the loader's telemetry"):
            numbers = await self.bus.partitions_for(self.topic)
            await consumer.start()
            consumer.assign([TopicPartition(self.topic, n) for n in sorted(numbers)])
            await consumer.seek_to_beginning()

    async def poll(self) -> LoaderEnd | None:
        """What is known so far: None while the loader runs."""
        if self.end is None and self._consumer is not None:
            with broker_errors("watch the loader's telemetry"):
                batches = await self._consumer.getmany(timeout_ms=0, max_records=10_000)
            for records in batches.values():
                self._check(records)
        return self.end

    def _check(self, records: list[Any]) -> None:
        for record in records:
            end = loader_end_of(record.value, self.queue_id, self.job)
            if end is not None and self.end is None:
                log.info("source loader ended", job=self.job, status=end.status.value)
                self.end = end

    async def stop(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with broker_errors("close the telemetry watch"):
                await consumer.stop()
