"""The `arango-connector` target: copy a loader's topic into a document collection.

ArangoDB when ARANGO_URL is set, else document tables in the service's SQLite file.
Bounded loads (`api_*`) end once the queue's loader of the same type has ended and every
record it produced is written; streams run until stopped.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

from app.bus import make_bus
from app.config import StoreSettings
from app.workers.base import JobContext
from app.workers.connector.copier import Copier
from app.workers.connector.coverage import CoverageReporter
from app.workers.connector.documents import DocumentStore
from app.workers.connector.loader_watch import LoaderWatch
from app.workers.connector.plan import ConnectorPlan, ConnectorSettings, plan_of
from app.workers.connector.sqlite_documents import SqliteDocumentStore
from app.workers.connector.topic_reader import TopicReader
from app.workers.runtime import Entrypoint


def document_store(settings: StoreSettings, busy_timeout_ms: int = 10_000) -> DocumentStore:
    if settings.arango_url:
        from app.workers.connector.arango_documents import ArangoDocumentStore

        return ArangoDocumentStore(settings)
    return SqliteDocumentStore(settings.database_path, busy_timeout_ms)


def connector(settings: ConnectorSettings) -> Entrypoint:
    """The entrypoint with explicit connector settings (tests pass their own)."""

    async def run(ctx: JobContext) -> None:
        plan = plan_of(ctx.env, settings)
        async with AsyncExitStack() as stack:
            copier = await _copier(stack, ctx, plan, settings)
            await copier.run()

    return run


async def _copier(
    stack: AsyncExitStack, ctx: JobContext, plan: ConnectorPlan, settings: ConnectorSettings
) -> Copier:
    """Started parts, each closed by `stack` in reverse order."""
    store = document_store(ctx.env, settings.connector_busy_timeout_ms)
    stack.push_async_callback(store.close)
    bus = make_bus(ctx.env)
    await bus.start()
    stack.push_async_callback(bus.stop)
    reader = TopicReader(bus, plan.topic, plan.group, plan.batch_size)
    stack.push_async_callback(reader.stop)
    await reader.start()
    watch = None
    if plan.loader_job is not None:
        watch = LoaderWatch(bus, ctx.env.queue_control_topic, ctx.env.queue_id, plan.loader_job)
        stack.push_async_callback(watch.stop)
        await watch.start()
    return Copier(ctx, plan, store, reader, watch, CoverageReporter(bus, ctx.env, plan.collection))


async def main(ctx: JobContext) -> None:
    """Entry point of `python -m app.workers arango-connector`."""
    await connector(ConnectorSettings())(ctx)
