"""Records from every connection of a stream job, sent to the sink in batches."""

from __future__ import annotations

import asyncio
from typing import Any

from app.workers.base import JobContext
from app.workers.binance.timerange import iso_ms
from app.workers.live_stats import LiveStats


class Batcher:
    """Collects records; `flush` sends them in one batch and reports progress.

    One lock serialises sends, so a timed flush and a full-batch flush never interleave.
    """

    def __init__(self, ctx: JobContext, size: int, stats: LiveStats | None = None) -> None:
        self.ctx = ctx
        self.size = size
        self.stats = stats or LiveStats()
        self.pending: list[Any] = []
        """Always the same list (handlers may hold on to it); emptied as it is sent."""
        self.written = 0
        self._lock = asyncio.Lock()

    @property
    def full(self) -> bool:
        return len(self.pending) >= self.size

    async def flush(self) -> None:
        async with self._lock:
            batch = self.pending.copy()
            self.pending.clear()
            if not batch:
                return
            await self.ctx.sink.send(batch)
            self.written += len(batch)
            self.stats.observe_each(batch)
            self.ctx.progress(self.written, iso_ms(batch[-1]["event_time"]))

    async def send_now(self, records: list[Any]) -> None:
        """Records from elsewhere (a backfill): sent at once and counted as written, but
        older than the stream's, so the last loaded time stays where the stream put it."""
        async with self._lock:
            await self.ctx.sink.send(records)
            self.written += len(records)
            self.ctx.progress(self.written)
