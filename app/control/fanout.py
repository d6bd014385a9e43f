"""Feeds the hub from Kafka so that every replica's clients see every event.

Each replica reads queue-events and queue-control with its own group-less consumer (the
dispatcher's shared group would split the stream between replicas), from the latest offset.
Telemetry already delivered (same or lower seq for the job) is not sent twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from app.bus import Bus, Consumer, broker_errors
from app.control import messages
from app.control.consuming import FETCH_MAX_WAIT_MS, FETCH_MIN_BYTES, consume_forever
from app.control.hub import Hub

SEEN_LIMIT = 100_000
YIELD_EVERY = 500
"""Records forwarded between yields to the loop. Most are written at once (the hub's
direct sends), so a slice is ~3 ms; with 64 the dispatcher, which parses 500 records per
slice, got eight times the fan-out's share of a busy loop and the live path lagged behind
the store's (bench dispatcher, 1,000 clients: p50 190 ms -> 55 ms)."""
MAX_POLL_RECORDS = 2000


class Fanout:
    def __init__(
        self,
        bus: Bus,
        hub: Hub,
        control_topic: str,
        events_topic: str,
        max_message_bytes: int,
        on_rejected: Callable[[], None] = lambda: None,
    ) -> None:
        self._bus = bus
        self._hub = hub
        self._control = control_topic
        self._events = events_topic
        self._max_bytes = max_message_bytes
        self._on_rejected = on_rejected
        """Told of every record not shown: too large, not valid, or a command."""
        self._seen: dict[str, int] = {}
        self.assigned = asyncio.Event()
        """Set once the consumer has its partitions (tests wait on it)."""

    async def run(self) -> None:
        """Consume forever (cancel to stop), reconnecting after broker failures."""
        await consume_forever("fan-out consumer", self._consumer, self._loop)

    def _consumer(self) -> Consumer:
        return self._bus.consumer(
            [self._control, self._events],
            None,
            auto_offset_reset="latest",
            enable_auto_commit=False,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            fetch_min_bytes=FETCH_MIN_BYTES,
        )

    async def _loop(self, consumer: Consumer) -> None:
        while True:
            with broker_errors("read for fan-out"):
                batches = await consumer.getmany(timeout_ms=200, max_records=MAX_POLL_RECORDS)
            if consumer.assignment():
                self.assigned.set()
            if not self._hub.clients:
                continue  # nobody listens: read on, skip the decoding
            for partition, records in batches.items():
                for index, record in enumerate(records, 1):
                    self._forward(partition.topic, record.value)
                    if index % YIELD_EVERY == 0:
                        await asyncio.sleep(0)  # the pumps, the flush and the dispatcher run

    def _forward(self, topic: str, raw: bytes | None) -> None:
        if raw is None:
            return
        if topic == self._events:
            message = messages.from_event(raw, self._max_bytes)
            if message is None:
                self._on_rejected()
            else:
                self._hub.publish(message)
            return
        telemetry = messages.from_control(raw, self._max_bytes)
        if telemetry is None:
            self._on_rejected()
        elif self._is_new(telemetry[1], telemetry[2]):
            self._hub.publish(telemetry[0])

    def _is_new(self, job: str, seq: int) -> bool:
        if self._seen.get(job, -1) >= seq:
            return False
        if len(self._seen) >= SEEN_LIMIT:
            self._seen.pop(next(iter(self._seen)))
        self._seen[job] = seq
        return True


async def heartbeats(hub: Hub, every_seconds: float) -> None:
    """Offer every client a heartbeat every N seconds (cancel to stop)."""
    while True:
        await asyncio.sleep(every_seconds)
        hub.publish(messages.heartbeat(datetime.now(UTC).isoformat()))
