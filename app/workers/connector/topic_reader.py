"""The loader's topic through the connector's consumer group, committed only on request.

Partitions are assigned by hand (one connector per queue and type: no rebalances, no
join delay) while offsets live in the group, so a restarted connector resumes where the
last written batch ended; with nothing committed it starts from the earliest offset.
"""

from __future__ import annotations

from typing import Any

from aiokafka import TopicPartition

from app.bus import Bus, Consumer, broker_errors
from app.workers.connector.end_offsets import Offsets, confirmed_end_offsets


class TopicReader:
    def __init__(self, bus: Bus, topic: str, group: str, batch_size: int) -> None:
        self.bus, self.topic, self.group, self.batch_size = bus, topic, group, batch_size
        self.partitions: list[TopicPartition] = []
        self._consumer: Consumer | None = None

    @property
    def consumer(self) -> Consumer:
        assert self._consumer is not None, "TopicReader.start() first"
        return self._consumer

    async def start(self) -> None:
        self._consumer = self.bus.consumer(
            [], group_id=self.group, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        with broker_errors(f"consume {self.topic}"):
            numbers = await self.bus.partitions_for(self.topic)
            self.partitions = [TopicPartition(self.topic, n) for n in sorted(numbers)]
            await self.consumer.start()
            self.consumer.assign(self.partitions)

    async def next_batch(self, timeout_ms: int) -> list[Any]:
        """Up to batch_size records (any partitions), or none after `timeout_ms`."""
        with broker_errors(f"consume {self.topic}"):
            batches = await self.consumer.getmany(
                timeout_ms=timeout_ms, max_records=self.batch_size
            )
        return [record for records in batches.values() for record in records]

    async def commit(self, records: list[Any]) -> None:
        """Commit past `records` (call only once they are written)."""
        offsets: Offsets = {}
        for record in records:
            offsets[TopicPartition(record.topic, record.partition)] = record.offset + 1
        with broker_errors(f"commit offsets of {self.group}"):
            await self.consumer.commit(offsets)

    async def end_offsets(self) -> Offsets:
        return await confirmed_end_offsets(self.bus, self.partitions)

    async def reached(self, targets: Offsets) -> bool:
        """True once every partition was read up to its target offset."""
        with broker_errors(f"read positions on {self.topic}"):
            for tp, target in targets.items():
                if await self.consumer.position(tp) < target:
                    return False
        return True

    async def stop(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with broker_errors(f"close the consumer of {self.topic}"):
                await consumer.stop()
