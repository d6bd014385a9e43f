"""The backfill loop of a stream job: every gap its GapBook records is filled from the
exchange's history API, one at a time, for as long as the job runs.

What to fetch is the exchange's part (a `GapSource`: the missing records of a gap, page by
page); this loop writes them, counts them, and decides what a failure means: a permanent
one (the exchange will not serve it) leaves the gap `failed` and open; any other is
`failed` until the gap is tried again after a capped backoff, resuming where it stopped.
The stream never waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from app.aio import Backoff
from app.errors import QueueManagerError
from app.models.gaps import Gap
from app.workers.gaps import GapBook

GapSource = Callable[[Gap], AsyncGenerator[list[Any], None]]
"""The records a gap misses, a page at a time, from after those already backfilled."""
Write = Callable[[list[Any]], Awaitable[None]]


class Backfiller:
    def __init__(
        self,
        book: GapBook,
        source: GapSource,
        write: Write,
        *,
        permanent: tuple[type[QueueManagerError], ...],
        transient: tuple[type[QueueManagerError], ...],
        backoff: Backoff,
    ) -> None:
        self.book, self.source, self.write = book, source, write
        self.permanent, self.transient, self.backoff = permanent, transient, backoff
        self._waiting: asyncio.Queue[Gap] = asyncio.Queue()

    def submit(self, gap: Gap) -> None:
        self._waiting.put_nowait(gap)

    async def run(self) -> None:
        """Forever (the stream job cancels it): take a gap, fill it, or note why not."""
        while True:
            gap = await self._waiting.get()
            try:
                await self.fill(gap)
            except self.permanent as error:
                self.book.failed(gap, f"{error.message} (not retried)")
            except self.transient as error:
                self.book.failed(gap, error.message)
                await asyncio.sleep(self.backoff.next_delay())
                self.submit(gap)
            else:
                self.backoff.reset()

    async def fill(self, gap: Gap) -> None:
        self.book.filling(gap)
        async with contextlib.aclosing(self.source(gap)) as pages:
            async for records in pages:
                await self.write(records)
                self.book.wrote(gap, len(records))
        self.book.filled(gap)
