"""A topic's end offsets, confirmed by a fetch.

Tansu answers ListOffsets(latest) with the last batch's base offset + 1, not the high
watermark, so a partition whose last batch holds many records looks shorter than it is.
A Fetch response's high watermark is right: fetch the record just before the reported end
and take the larger of the two. With Kafka both agree and the fetch costs one round trip.
"""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition

from app.bus import Bus, Consumer, broker_errors

Offsets = dict[TopicPartition, int]


async def confirmed_end_offsets(
    bus: Bus, partitions: list[TopicPartition], within: float = 10.0
) -> Offsets:
    probe = bus.consumer([], group_id=None, enable_auto_commit=False)
    with broker_errors("read end offsets"):
        try:
            await probe.start()
            probe.assign(partitions)
            reported: Offsets = await probe.end_offsets(partitions)
            async with asyncio.timeout(within):
                return {tp: await _confirmed(probe, tp, end) for tp, end in reported.items()}
        finally:
            await probe.stop()


async def _confirmed(probe: Consumer, tp: TopicPartition, reported: int) -> int:
    """The high watermark a fetch at `reported - 1` sees (an empty partition stays 0)."""
    if reported == 0:
        return 0
    probe.seek(tp, reported - 1)
    records: list[object] = []
    while not records:
        records = (await probe.getmany(tp, timeout_ms=200, max_records=1)).get(tp, [])
    return max(reported, probe.highwater(tp) or 0)
