"""The queue-control dispatcher: telemetry and commands into the store, at least once.

One consumer group shared by the replicas. Per poll: parse every record (bad ones go to the
dead-letter topic and are skipped), run commands in order, apply each queue's telemetry in
one store write (coalescing), and only then commit the offsets. While the store is down
the partitions are paused and the batch is retried with capped backoff; nothing is lost.

A message that cannot be handled for any other reason (any exception, not only ours) is
dead-lettered as `unprocessable` with the error, counted and skipped: one poison message
never stops the dispatcher, nor does it stop it again after a restart.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog
from aiokafka import ConsumerRecord, TopicPartition

from app.aio import Backoff, one_line
from app.bus import Bus, Consumer, broker_errors
from app.config import Settings
from app.control.consuming import consume_forever
from app.control.outbox import Outbox
from app.errors import InvalidMessage, QueueManagerError, StoreUnavailable
from app.metrics import Metrics
from app.models.messages import (
    CoverageReport,
    StartCommand,
    StopCommand,
    Telemetry,
    WeightShareCommand,
    decode_control,
)
from app.services.queue_service import QueueService

log = structlog.get_logger(__name__)
MAX_BACKOFF = 5.0
LAG_EVERY_SECONDS = 1.0
SETTLE_POLLS = 2
"""Empty polls that must start after a shutdown's mark: the second one surely did."""
MAX_POLL_RECORDS = 20_000
"""Under a backlog one poll takes this many: each queue's reports become one store write,
so bigger polls mean fewer writes per message (about 20 ms of parsing on one core)."""
PARSE_SLICE = 500
FETCH_MAX_WAIT_MS = 200
FETCH_MIN_BYTES = 1024 * 1024
"""Longer and larger fetches than the fan-out's (app/control/consuming.py): the dispatcher
is not on the live path, and under load each queue's reports of 200 ms become one store
write (with one commit) rather than one per 50 ms. Profiled under `bench dispatcher`, the
per-queue store work was a third of the service's CPU. A Kafka command waits at most
150 ms longer."""
Batch = dict[TopicPartition, list[ConsumerRecord]]
Command = StartCommand | StopCommand
UNPROCESSABLE = "unprocessable"
CoverageHandler = Callable[[list[CoverageReport]], Awaitable[None]]


@dataclass
class _Parsed:
    """One poll, parsed once (a retry while the store is down does not parse again)."""

    batch: Batch
    commands: list[tuple[Command, ConsumerRecord]] = field(default_factory=list)
    telemetry: dict[str, list[Telemetry]] = field(default_factory=lambda: defaultdict(list))
    coverage: list[tuple[CoverageReport, ConsumerRecord]] = field(default_factory=list)


class Dispatcher:
    def __init__(
        self,
        bus: Bus,
        service: QueueService,
        outbox: Outbox,
        settings: Settings,
        metrics: Metrics,
        coverage: CoverageHandler | None = None,
    ) -> None:
        self._bus = bus
        self.coverage = coverage
        """Merges connectors' coverage reports (the coverage map); a report that comes
        while none is set is dead-lettered as `unhandled`, never dropped unseen."""
        self._service = service
        self._outbox = outbox
        self._settings = settings
        self._metrics = metrics
        self._max_bytes = settings.kafka_max_message_bytes
        self.assigned = asyncio.Event()
        self.problem: str | None = None
        """Why the last batch could not be stored; None while all is well (readiness)."""
        self._current: Consumer | None = None
        self._positions: dict[TopicPartition, int] = {}
        self._empty_poll = asyncio.Event()

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
            fetch_min_bytes=FETCH_MIN_BYTES,
        )

    async def settle(self, timeout_seconds: float) -> bool:
        """At shutdown, once the jobs have exited: wait (bounded) until polls come back
        empty, so their final telemetry, on the broker before they exited, is applied."""
        try:
            async with asyncio.timeout(timeout_seconds):
                for _ in range(SETTLE_POLLS):
                    self._empty_poll.clear()
                    await self._empty_poll.wait()
        except TimeoutError:
            return False
        return True

    async def record_lag_forever(self) -> None:
        """The lag recorder (its own supervised task): consumer lag per partition every
        second, from the offsets the dispatcher has committed. Synchronous reads of the
        consumer only, so a rebalance cannot interleave with them."""
        while True:
            await asyncio.sleep(LAG_EVERY_SECONDS)
            if self._current is not None:
                self._record_lag(self._current)

    async def _loop(self, consumer: Consumer) -> None:
        self._current = consumer
        try:
            await self._poll_forever(consumer)
        finally:
            self._current = None

    async def _poll_forever(self, consumer: Consumer) -> None:
        while True:
            with broker_errors("read queue-control"):
                batch = await consumer.getmany(timeout_ms=200, max_records=MAX_POLL_RECORDS)
            if consumer.assignment():
                self.assigned.set()
            if not batch:
                self._empty_poll.set()
                continue
            await self._store_until_done(consumer, await self._parse_batch(batch))
            with broker_errors("commit queue-control offsets"):
                await consumer.commit()
            self._positions.update({tp: records[-1].offset + 1 for tp, records in batch.items()})

    async def _store_until_done(self, consumer: Consumer, parsed: _Parsed) -> None:
        """Retry the batch while the store is down; partitions stay paused meanwhile."""
        backoff = Backoff(0.1, MAX_BACKOFF)
        while True:
            try:
                await self._process(parsed)
                self.problem = None
                return
            except StoreUnavailable as error:
                self.problem = error.message
                delay = backoff.next_delay()
                log.warning("store down: dispatcher paused", error=error.message, backoff=delay)
                await self._pause(consumer, delay)

    async def _pause(self, consumer: Consumer, seconds: float) -> None:
        partitions = consumer.assignment()
        consumer.pause(*partitions)
        try:
            with broker_errors("poll while paused"):
                await consumer.getmany(timeout_ms=int(seconds * 1000))
        finally:
            consumer.resume(*partitions)

    async def _parse_batch(self, batch: Batch) -> _Parsed:
        """Yields to the loop every PARSE_SLICE records: a full poll is ~20 ms of parsing,
        which would otherwise stall every live update (the fan-out's p99) behind it."""
        parsed = _Parsed(batch)
        for records in batch.values():
            for index, record in enumerate(records, 1):
                if index % PARSE_SLICE == 0:
                    await asyncio.sleep(0)
                message = self._parse(record)
                if isinstance(message, Telemetry):
                    parsed.telemetry[message.queue_id].append(message)
                elif isinstance(message, CoverageReport):
                    parsed.coverage.append((message, record))
                elif isinstance(message, StartCommand | StopCommand):
                    parsed.commands.append((message, record))
                # a WeightShareCommand is the service's word to a job: nothing to do here
        return parsed

    async def _process(self, parsed: _Parsed) -> None:
        """Commands in order, then coverage reports (so a connector seen finished already
        has its last report in the map), then the telemetry; what is done is not done
        twice when the store fails half way and the batch is retried."""
        while parsed.commands:
            await self._run_command(*parsed.commands[0])
            parsed.commands.pop(0)
        if parsed.coverage:
            await self._merge_coverage(parsed.coverage)
            parsed.coverage.clear()
        if parsed.telemetry:
            await self._apply_or_set_aside(parsed)
            parsed.telemetry.clear()

    def _parse(
        self, record: ConsumerRecord
    ) -> Telemetry | CoverageReport | Command | WeightShareCommand | None:
        try:
            message = decode_control(record.value or b"", self._max_bytes)
        except InvalidMessage as error:
            self._dead_letter(record, error.reason, error.message)
            return None
        except Exception as error:
            self._unprocessable(record, error)
            return None
        if isinstance(message, CoverageReport) and self.coverage is None:
            self._dead_letter(record, "unhandled", "no coverage map in this service")
            return None
        return message

    def _unprocessable(self, record: ConsumerRecord, error: Exception) -> None:
        log.error("queue-control message cannot be handled", offset=record.offset, exc_info=error)
        self._dead_letter(record, UNPROCESSABLE, one_line(error))

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

    async def _run_command(self, command: Command, record: ConsumerRecord) -> None:
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
        except Exception as error:
            result = "dead_lettered"
            self._unprocessable(record, error)
        self._metrics.commands.labels(command.command, result).inc()

    async def _merge_coverage(self, reports: list[tuple[CoverageReport, ConsumerRecord]]) -> None:
        """The poll's reports in one merge; when that fails for another reason than the
        store being down, one by one, setting aside a report that cannot be merged."""
        assert self.coverage is not None  # _parse sets reports aside without it
        try:
            await self.coverage([report for report, _ in reports])
        except StoreUnavailable:
            raise
        except Exception:
            log.exception("coverage merge failed; merging report by report")
            for report, record in reports:
                try:
                    await self.coverage([report])
                except StoreUnavailable:
                    raise
                except Exception as error:
                    self._unprocessable(record, error)

    async def _apply_or_set_aside(self, parsed: _Parsed) -> None:
        """Every queue's telemetry in one store call; when that fails for another reason
        than the store being down, queue by queue, setting aside the reports of a queue
        that cannot take them."""
        try:
            await self._apply(parsed.telemetry)
        except StoreUnavailable:
            raise
        except Exception:
            log.exception("telemetry batch failed; applying it queue by queue")
            await self._apply_each(parsed)

    async def _apply_each(self, parsed: _Parsed) -> None:
        for queue_id in list(parsed.telemetry):
            try:
                await self._apply({queue_id: parsed.telemetry[queue_id]})
            except StoreUnavailable:
                raise
            except Exception as error:
                for record in _records_of_queue(parsed.batch, queue_id):
                    self._unprocessable(record, error)
            del parsed.telemetry[queue_id]

    async def _apply(self, telemetry: dict[str, list[Telemetry]]) -> None:
        """Every queue's telemetry of this poll in one store call."""
        unknown = await self._service.apply_telemetry(telemetry)
        counted = Counter[str]()
        for queue_id, reports in telemetry.items():
            counted["unknown_queue" if queue_id in unknown else "applied"] += len(reports)
        for result, count in counted.items():
            self._metrics.telemetry_consumed.labels(result).inc(count)

    def _record_lag(self, consumer: Consumer) -> None:
        for partition in consumer.assignment():
            highwater = consumer.highwater(partition)
            position = self._positions.get(partition)
            if highwater is not None and position is not None:
                self._metrics.consumer_lag.labels(str(partition.partition)).set(
                    max(0, highwater - position)
                )


def _records_of_queue(batch: Batch, queue_id: str) -> list[ConsumerRecord]:
    """The telemetry records of one queue in a poll (decoded again: the rare path)."""
    found = []
    for records in batch.values():
        for record in records:
            try:
                message = decode_control(record.value or b"")
            except Exception:
                continue
            if isinstance(message, Telemetry) and message.queue_id == queue_id:
                found.append(record)
    return found
