"""Watch queue-control for the service's word to this job: a `stop` command for its queue,
and `weight_share` commands for the job itself (its REST weight share, newest version wins).

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
from pydantic import ValidationError

from app.bus import Bus, Consumer, broker_errors
from app.errors import QueueManagerError
from app.models.messages import WeightShareCommand
from app.workers.weight_budget import WeightBudget

log = structlog.get_logger("app.workers.stop_watch")


def command_for(value: bytes, queue_id: str) -> dict[str, Any] | None:
    """A command (`{"type":"command",...}`) for `queue_id`; None for anything else (junk
    included: the dispatcher deals with that)."""
    try:
        message: Any = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(message, dict) or message.get("type") != "command":
        return None
    return message if message.get("queue_id") == queue_id else None


def share_for(command: dict[str, Any], job: str) -> WeightShareCommand | None:
    """The weight share in `command` when it is one for `job`."""
    if command.get("command") != "weight_share" or command.get("job") != job:
        return None
    try:
        return WeightShareCommand.model_validate(command)
    except ValidationError as error:
        log.warning("weight share ignored: invalid", error=str(error.errors()[0]["msg"]))
        return None


class StopWatch:
    """Sets `stop` when a stop command for `queue_id` appears on `topic` after `since_ms`,
    and gives `budget` every newer weight share for the job named `job`."""

    def __init__(
        self,
        bus: Bus,
        topic: str,
        queue_id: str,
        since_ms: int,
        *,
        job: str = "",
        budget: WeightBudget | None = None,
    ) -> None:
        self.bus = bus
        self.topic = topic
        self.queue_id = queue_id
        self.since_ms = since_ms
        self.job = job
        self.budget = budget

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
            command = command_for(record.value, self.queue_id)
            if command is None or record.timestamp < self.since_ms:
                continue
            if command.get("command") == "stop":
                log.info("stop command received", offset=record.offset)
                stop.set()
            elif (share := share_for(command, self.job)) is not None:
                self._apply(share)

    def _apply(self, share: WeightShareCommand) -> None:
        if self.budget is None:
            return
        taken = self.budget.apply(
            share.share, share.version, budget=share.budget, loaders=share.loaders
        )
        log.info(
            "weight share taken" if taken else "weight share ignored: not newer",
            share=share.share,
            version=share.version,
            loaders=share.loaders,
        )
