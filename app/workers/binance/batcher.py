"""Records from every connection of a stream job, sent to the sink in batches.

A full batch is sent in the background (`hand_off`) while the readers fill the next one, so
the sockets are read while the broker acknowledges; one batch at a time is in flight and
each is acknowledged before the next is sent, so a retried batch keeps its place in order.
"""

from __future__ import annotations

import asyncio
from typing import Any

from app.workers.base import JobContext
from app.workers.binance.timerange import iso_ms
from app.workers.live_stats import LiveStats


class Batcher:
    """Collects records; `flush` delivers them all, `hand_off` starts sending a full batch.

    One lock serialises sends, so a timed flush and a full-batch send never interleave.
    """

    def __init__(self, ctx: JobContext, size: int, stats: LiveStats | None = None) -> None:
        self.ctx = ctx
        self.size = size
        self.stats = stats or LiveStats()
        self.pending: list[Any] = []
        """Always the same list (handlers may hold on to it); emptied as it is sent."""
        self.written = 0
        self._lock = asyncio.Lock()
        self._sending: asyncio.Task[None] | None = None
        """The batch in flight, if any: awaited (its failure raised) before the next send."""

    @property
    def full(self) -> bool:
        return len(self.pending) >= self.size

    async def hand_off(self) -> None:
        """Send the pending records in the background once the batch in flight is in."""
        async with self._lock:
            await self._in_flight_sent()
            batch = self._take()
            if batch:
                self._sending = asyncio.create_task(self._send(batch), name="stream-batch")

    async def flush(self) -> None:
        """Deliver the batch in flight and everything pending before returning."""
        async with self._lock:
            await self._in_flight_sent()
            batch = self._take()
            if batch:
                await self._send(batch)

    async def send_now(self, records: list[Any]) -> None:
        """Records from elsewhere (a backfill): sent at once and counted as written, but
        older than the stream's, so the last loaded time stays where the stream put it."""
        async with self._lock:
            await self._in_flight_sent()
            await self.ctx.sink.send(records)
            self.written += len(records)
            self.ctx.progress(self.written)

    async def _in_flight_sent(self) -> None:
        """Wait for the batch in flight; a caller cancelled meanwhile leaves it running
        (shielded) for the next flush to wait for, so no batch is lost half-sent."""
        task = self._sending
        if task is None:
            return
        try:
            await asyncio.shield(task)
        finally:
            if task.done():
                self._sending = None

    def _take(self) -> list[Any]:
        batch = self.pending.copy()
        self.pending.clear()
        return batch

    async def _send(self, batch: list[Any]) -> None:
        await self.ctx.sink.send(batch)
        self.written += len(batch)
        self.stats.observe_each(batch)
        self.ctx.progress(self.written, iso_ms(batch[-1]["event_time"]))
