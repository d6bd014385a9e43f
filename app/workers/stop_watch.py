"""Watch queue-control for a `stop` command addressed to this job's queue.

No consumer group (no join delay, no shared offsets): every partition is read from the
first message at or after the job's start, so a stop sent while the job was still
connecting is not missed. Messages older than that are skipped by timestamp as well,
because some brokers (Tansu) answer offsets-for-times imprecisely.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import structlog
from aiokafka import TopicPartition

from app.bus import Bus, Consumer, broker_errors
from app.errors import QueueManagerError

log = structlog.get_logger("app.workers.stop_watch")


def is_stop_for(value: bytes, queue_id: str) -> bool:
    """True for `{"type":"command","command":"stop","queue_id":<ours>}`; junk is ignored."""
    try:
        message: Any = orjson.loads(value)
    except orjson.JSONDecodeError:
        return False
    return (
        isinstance(message, dict)
        and message.get("type") == "command"
        and message.get("command") == "stop"
        and message.get("queue_id") == queue_id
    )


class StopWatch:
    """Sets `stop` when a stop command for `queue_id` appears on `topic` after `since_ms`."""

    def __init__(self, bus: Bus, topic: str, queue_id: str, since_ms: int) -> None:
        self.bus = bus
        self.topic = topic
        self.queue_id = queue_id
        self.since_ms = since_ms

    async def run(self, stop: asyncio.Event) -> None:
        """Keep watching (reconnecting after broker errors) until a stop arrives."""
        while not stop.is_set():
            try:
                await self._watch_once(stop)
            except QueueManagerError as error:
                log.warning("stop watch interrupted; reconnecting", error=str(error))
                await asyncio.sleep(1.0)

    async def _watch_once(self, stop: asyncio.Event) -> None:
        # earliest: if the broker lost its log (restart), re-read; the time filter skips old
        consumer = self.bus.consumer(
            [], group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        try:
            with broker_errors("watch queue-control"):
                await consumer.start()
                await self._seek_to_start(consumer)
                await self._consume(consumer, stop)
        finally:
            await consumer.stop()

    async def _seek_to_start(self, consumer: Consumer) -> None:
        """End offsets first, then times: a message landing in between is still found."""
        numbers = await self.bus.partitions_for(self.topic)
        partitions = [TopicPartition(self.topic, number) for number in sorted(numbers)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        found = await consumer.offsets_for_times({tp: self.since_ms for tp in partitions})
        for tp in partitions:
            hit = found.get(tp)
            usable = hit is not None and hit.timestamp >= 0
            consumer.seek(tp, hit.offset if usable and hit else ends[tp])

    async def _consume(self, consumer: Consumer, stop: asyncio.Event) -> None:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                self._check(records, stop)

    def _check(self, records: list[Any], stop: asyncio.Event) -> None:
        for record in records:
            if record.timestamp >= self.since_ms and is_stop_for(record.value, self.queue_id):
                log.info("stop command received", offset=record.offset)
                stop.set()
