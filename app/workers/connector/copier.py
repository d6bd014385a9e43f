"""The connector loop: read a batch, upsert it, then commit; end when the loader's data is in.

Acknowledgement policy: offsets are committed only after the batch is written, so a crash
between the two re-delivers the batch, and the upsert by `_key` makes that harmless.
"""

from __future__ import annotations

import structlog

from app.errors import QueueManagerError, StoreUnavailable
from app.workers.base import JobContext
from app.workers.connector.coverage import CoverageReporter
from app.workers.connector.decoding import decode, iso_ms
from app.workers.connector.documents import DocumentStore
from app.workers.connector.end_offsets import Offsets
from app.workers.connector.loader_watch import LoaderEnd, LoaderWatch
from app.workers.connector.plan import ConnectorPlan
from app.workers.connector.topic_reader import TopicReader
from app.workers.health import patiently

log = structlog.get_logger("app.workers.connector")


class SourceLoaderFailed(QueueManagerError):
    status_code = 502
    default_message = "the source loader failed"


class Copier:
    def __init__(
        self,
        ctx: JobContext,
        plan: ConnectorPlan,
        store: DocumentStore,
        reader: TopicReader,
        watch: LoaderWatch | None,
        coverage: CoverageReporter,
    ) -> None:
        self.ctx, self.plan, self.store, self.reader, self.watch = ctx, plan, store, reader, watch
        self.coverage = coverage
        self.written = 0
        self.newest_ms: int | None = None
        self.skipped = 0

    async def run(self) -> None:
        """Copy until stopped or, for a bounded load, until the loader's data is all in;
        then report the coverage (a failure for the load's whole range when it failed)."""
        try:
            await self._copy()
        except QueueManagerError as error:
            try:
                await self.coverage.finish(failure=error.message)
            except QueueManagerError as unsent:
                log.error("the failed load's coverage was not reported", error=unsent.message)
            raise
        await self.coverage.finish()

    async def _copy(self) -> None:
        targets: Offsets | None = None
        while not self.ctx.stop_requested.is_set():
            if targets is None:
                targets = await self._targets_once_loader_ended()
            if targets is not None and await self.reader.reached(targets):
                self._raise_if_loader_failed()
                return
            await self.copy_batch()

    async def _targets_once_loader_ended(self) -> Offsets | None:
        """The topic's end offsets at the moment the loader is known to have ended."""
        if self.watch is None or await self.watch.poll() is None:
            return None
        return await self.reader.end_offsets()

    def _raise_if_loader_failed(self) -> None:
        end: LoaderEnd | None = self.watch.end if self.watch else None
        if end is not None and end.failed:
            detail = f": {end.error_message}" if end.error_message else ""
            raise SourceLoaderFailed(
                f"source loader {self.plan.loader_job} ended {end.status.value}{detail}; "
                f"{self.written} records written before that"
            )

    async def copy_batch(self) -> None:
        records = await self.reader.next_batch(self.plan.poll_ms)
        if not records:
            await self.coverage.wrote(())  # what the last batches left unreported
            return
        decoded = decode(record.value for record in records)
        if decoded.documents:
            self.written += await patiently(
                lambda: self.store.upsert(self.plan.collection, decoded.documents),
                what=f"write to collection {self.plan.collection}",
                retries=self.ctx,
                on=StoreUnavailable,
                give_up_seconds=self.plan.give_up_seconds,
            )
            await self.coverage.wrote(decoded.documents)
        await self.reader.commit(records)
        self._report(decoded.newest_ms, decoded.skipped)

    def _report(self, newest_ms: int | None, skipped: int) -> None:
        if newest_ms is not None and (self.newest_ms is None or newest_ms > self.newest_ms):
            self.newest_ms = newest_ms
        stamp = iso_ms(self.newest_ms) if self.newest_ms is not None else None
        self.ctx.progress(self.written, stamp)
        if skipped:
            self.skipped += skipped
            self.ctx.warn(f"{self.skipped} records skipped: not JSON objects with an `id`")
