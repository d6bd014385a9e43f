"""Publish to Kafka without making callers wait on the broker, and without losing messages
during a short outage: a bounded in-memory outbox drained in order by one supervised task,
retrying with capped backoff. Overflow (a long outage) is logged and counted (the
`outbox_dropped_total` metric), never silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import Callable

import structlog

from app.aio import Backoff
from app.bus import Bus, Headers, Record
from app.errors import QueueManagerError

log = structlog.get_logger(__name__)
BATCH = 1000
ENVELOPE_BYTES = 1024


class Outbox:
    def __init__(
        self,
        bus: Bus,
        limit: int = 100_000,
        max_backoff: float = 5.0,
        on_dropped: Callable[[], None] = lambda: None,
    ) -> None:
        self._bus = bus
        self._on_dropped = on_dropped
        self._pending: deque[Record] = deque()
        self._limit = limit
        self._max_backoff = max_backoff
        self._max_bytes = bus.max_message_bytes - ENVELOPE_BYTES
        """A message the producer would refuse forever must not block the ones behind it."""
        self._ready = asyncio.Event()
        self._empty = asyncio.Event()
        self._empty.set()
        self.dropped = 0

    def put(
        self, topic: str, key: str | None, value: bytes, headers: Headers | None = None
    ) -> None:
        if len(self._pending) >= self._limit or len(value) > self._max_bytes:
            self.dropped += 1
            self._on_dropped()
            log.error(
                "message dropped: outbox full or message over KAFKA_MAX_MESSAGE_BYTES",
                topic=topic,
                size=len(value),
                dropped=self.dropped,
            )
            return
        self._pending.append((topic, key, value, headers))
        self._empty.clear()
        self._ready.set()

    async def run(self) -> None:
        """Drain forever (cancel to stop); one batch at a time, in order."""
        backoff = Backoff(0.05, self._max_backoff)
        while True:
            await self._ready.wait()
            try:
                await self._send_batch()
                backoff.reset()
            except QueueManagerError as error:
                delay = backoff.next_delay()
                log.warning("outbox send failed, retrying", error=error.message, backoff=delay)
                await asyncio.sleep(delay)

    async def _send_batch(self) -> None:
        batch = list(itertools.islice(self._pending, BATCH))
        await self._bus.publish(batch)
        for _ in batch:
            self._pending.popleft()
        if not self._pending:
            self._ready.clear()
            self._empty.set()

    async def drain(self, timeout_seconds: float) -> None:
        """At shutdown: give queued messages a bounded chance to go out."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._empty.wait(), timeout_seconds)
