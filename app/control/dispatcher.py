"""The queue-control dispatcher: telemetry and commands into the store, at least once.

One consumer group shared by the replicas. Per poll: parse every record (bad ones go to the
dead-letter topic and are skipped), run commands in order, apply each queue's telemetry in
one store write (coalescing), and only then commit the offsets. While the store is down
the partitions are paused and the batch is retried with capped backoff; nothing is lost.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

import structlog
from aiokafka import ConsumerRecord, TopicPartition

from app.bus import Bus, Consumer, broker_errors
from app.config import Settings
from app.control.consuming import FETCH_MAX_WAIT_MS, consume_forever
from app.control.outbox import Outbox
from app.errors import InvalidMessage, QueueManagerError, StoreUnavailable
from app.metrics import Metrics
from app.models.messages import StartCommand, StopCommand, Telemetry, decode_control
from app.services.queue_service import QueueService

log = structlog.get_logger(__name__)
MAX_BACKOFF = 5.0
MAX_POLL_RECORDS = 20_000
"""Under a backlog one poll takes this many: each queue's reports become one store write,
so bigger polls mean fewer writes per message (about 20 ms of parsing on one core)."""
Batch = dict[TopicPartition, list[ConsumerRecord]]
Command = StartCommand | StopCommand


class Dispatcher:
    def __init__(
        self,
        bus: Bus,
        service: QueueService,
        outbox: Outbox,
        settings: Settings,
        metrics: Metrics,
    ) -> None:
        self._bus = bus
        self._service = service
        self._outbox = outbox
        self._settings = settings
        self._metrics = metrics
        self._max_bytes = settings.kafka_max_message_bytes
        self.assigned = asyncio.Event()
        self.problem: str | None = None
        """Why the last batch could not be stored; None while all is well (readiness)."""

    async def run(self) -> None:
        """Consume forever (cancel to stop), reconnecting after broker failures."""
        await consume_forever("dispatcher", self._consumer, self._loop)

    async def check(self) -> None:
        if self.problem is not None:
            raise StoreUnavailable(f"dispatcher paused: {self.problem}")

    def _consumer(self) -> Consumer:
        return self._bus.consumer(
            [self._settings.queue_control_topic],
            self._settings.kafka_consumer_group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=self._settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=self._settings.kafka_session_timeout_ms // 4,
            max_partition_fetch_bytes=self._settings.kafka_max_message_bytes * 2,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        )

    async def _loop(self, consumer: Consumer) -> None:
        while True:
            with broker_errors("read queue-control"):
                batch = await consumer.getmany(timeout_ms=200, max_records=MAX_POLL_RECORDS)
            if consumer.assignment():
                self.assigned.set()
            if batch:
                await self._store_until_done(consumer, batch)
                with broker_errors("commit queue-control offsets"):
                    await consumer.commit()
                await self._record_lag(consumer)

    async def _store_until_done(self, consumer: Consumer, batch: Batch) -> None:
        """Retry the batch while the store is down; partitions stay paused meanwhile."""
        backoff = 0.1
        while True:
            try:
                await self._process(batch)
                self.problem = None
                return
            except StoreUnavailable as error:
                self.problem = error.message
                log.warning("store down: dispatcher paused", error=error.message, backoff=backoff)
                await self._pause(consumer, backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)

    async def _pause(self, consumer: Consumer, seconds: float) -> None:
        partitions = consumer.assignment()
        consumer.pause(*partitions)
        try:
            with broker_errors("poll while paused"):
                await consumer.getmany(timeout_ms=int(seconds * 1000))
        finally:
            consumer.resume(*partitions)

    async def _process(self, batch: Batch) -> None:
        commands: list[Command] = []
        telemetry: dict[str, list[Telemetry]] = defaultdict(list)
        for records in batch.values():
            for record in records:
                message = self._parse(record)
                if isinstance(message, Telemetry):
                    telemetry[message.queue_id].append(message)
                elif message is not None:
                    commands.append(message)
        for command in commands:
            await self._run_command(command)
        if telemetry:
            await self._apply(telemetry)

    def _parse(self, record: ConsumerRecord) -> Telemetry | Command | None:
        try:
            return decode_control(record.value or b"", self._max_bytes)
        except InvalidMessage as error:
            self._dead_letter(record, error.reason, error.message)
            return None

    def _dead_letter(self, record: ConsumerRecord, reason: str, detail: str) -> None:
        self._metrics.dead_lettered.labels(reason).inc()
        log.warning(
            "queue-control message set aside",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=reason,
            detail=detail[:300],
        )
        headers = [
            ("dlq-reason", reason.encode()),
            ("dlq-detail", detail[:300].encode()),
            ("source-topic", record.topic.encode()),
            ("source-partition", str(record.partition).encode()),
            ("source-offset", str(record.offset).encode()),
        ]
        key = record.key.decode(errors="replace") if record.key else None
        value, limit = record.value or b"", self._settings.kafka_max_message_bytes
        if len(value) > limit:  # the copy must fit our producer, or it blocks the outbox
            headers.append(("dlq-truncated-from", str(len(value)).encode()))
            value = value[: limit // 2]
        self._outbox.put(self._settings.queue_control_dlq_topic, key, value, headers)

    async def _run_command(self, command: Command) -> None:
        try:
            if isinstance(command, StartCommand):
                await self._service.start(command.payload, command.command_id)
            else:
                await self._service.stop(command.queue_id)
            result = "ok"
        except StoreUnavailable:
            raise
        except QueueManagerError as error:
            result = "rejected"
            log.info(
                "command rejected",
                command=command.command,
                error=error.message,
                command_id=command.command_id,
            )
        self._metrics.commands.labels(command.command, result).inc()

    async def _apply(self, telemetry: dict[str, list[Telemetry]]) -> None:
        """Every queue's telemetry of this poll in one store call."""
        unknown = await self._service.apply_telemetry(telemetry)
        for queue_id, reports in telemetry.items():
            result = "unknown_queue" if queue_id in unknown else "applied"
            self._metrics.telemetry_consumed.labels(result).inc(len(reports))

    async def _record_lag(self, consumer: Consumer) -> None:
        for partition in consumer.assignment():
            highwater = consumer.highwater(partition)
            if highwater is not None:
                position = await consumer.position(partition)
                self._metrics.consumer_lag.labels(str(partition.partition)).set(
                    max(0, highwater - position)
                )
