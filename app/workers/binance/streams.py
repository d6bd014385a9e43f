"""Live stream jobs: every symbol's stream over as few connections as the limits allow."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from app.workers.base import JobContext
from app.workers.binance.backfill import binance_backfiller
from app.workers.binance.batcher import Batcher
from app.workers.binance.connection import StreamConnection
from app.workers.binance.handover import StreamHandler
from app.workers.binance.market import Market
from app.workers.binance.rest_client import RestClient
from app.workers.binance.sequence import SEQUENCES, sequence_for
from app.workers.binance.settings import BinanceTuning
from app.workers.binance.stream_names import (
    normalizer_for,
    plan_connections,
    stream_suffix,
    streams_for,
)
from app.workers.gaps import GapBook
from app.workers.live_stats import LiveStats

STATS_INTERVAL_SECONDS = 1.0
STATS_TICKERS = 50
"""The busiest tickers sent in each stats snapshot (the seed's top 50)."""


class NormalizingHandler:
    """Stateless streams: one record per event, appended to the shared batch."""

    def __init__(self, exchange: str, suffix: str, batcher: Batcher) -> None:
        self.exchange = exchange
        self.normalize = normalizer_for(suffix)
        self.batcher = batcher

    def on_connect(self, streams: list[str]) -> None:
        return None

    def __call__(self, stream: str, data: dict[str, Any], now: int) -> None:
        self.batcher.pending.append(self.normalize(self.exchange, data, now))

    def continues(self, stream: str, data: dict[str, Any]) -> bool:
        """Unordered streams (tickers): any event continues; the latest one counts."""
        return True


def connections_for(
    ctx: JobContext,
    market: Market,
    tuning: BinanceTuning,
    handler: StreamHandler,
    batcher: Batcher,
) -> list[StreamConnection]:
    suffix = stream_suffix(ctx.env.job_type, market)
    streams = streams_for(ctx.env.symbol_list, suffix)
    per_connection = tuning.streams_per_connection or market.streams_per_connection
    pace = tuning.messages_per_second or market.messages_per_second
    connections = [
        StreamConnection(ctx, market.ws_url + route, names, handler, batcher, tuning, pace)
        for route, names in plan_connections(streams, market, per_connection)
    ]
    batcher.stats.connections_total = len(connections)
    for number, connection in enumerate(connections, start=1):
        connection.number = number
    return connections


async def run_streams(ctx: JobContext, market: Market, tuning: BinanceTuning) -> None:
    """Runs until cancelled (the job is stopped); every connection task is owned here."""
    stats = LiveStats(tickers_total=len(ctx.env.symbol_list))
    batcher = Batcher(ctx, tuning.batch_size, stats)
    suffix = stream_suffix(ctx.env.job_type, market)
    if suffix.startswith("depth"):
        from app.workers.binance.depth_book import DepthBooks

        books = DepthBooks(ctx, market, tuning, batcher)
        try:
            await _run_all(ctx, connections_for(ctx, market, tuning, books, batcher), stats)
        finally:
            await books.aclose()
    elif suffix.split("_", 1)[0] in SEQUENCES:
        await _run_with_backfill(ctx, market, tuning, batcher, suffix)
    else:
        handler = NormalizingHandler(market.exchange, suffix, batcher)
        await _run_all(ctx, connections_for(ctx, market, tuning, handler, batcher), stats)


async def _run_with_backfill(
    ctx: JobContext, market: Market, tuning: BinanceTuning, batcher: Batcher, suffix: str
) -> None:
    """Ordered streams: gaps are found per stream and backfilled over REST meanwhile."""
    client = RestClient(market.rest_url, tuning, ctx)
    book = GapBook(ctx.report_gaps)
    backfiller = binance_backfiller(market, client, book, batcher, tuning)
    handler = sequence_for(market.exchange, suffix, batcher, book, backfiller.submit)
    assert handler is not None
    ctx.report_gaps(book.summary())  # none yet: the job is seen to watch for them
    connections = connections_for(ctx, market, tuning, handler, batcher)
    try:
        await _run_all(ctx, connections, batcher.stats, backfiller.run())
    finally:
        await client.aclose()


async def _run_all(
    ctx: JobContext,
    connections: list[StreamConnection],
    stats: LiveStats,
    *helpers: Coroutine[Any, Any, None],
) -> None:
    async with asyncio.TaskGroup() as group:
        for helper in helpers:
            group.create_task(helper)
        for connection in connections:
            group.create_task(connection.run())
        group.create_task(_report_stats(ctx, stats))


async def _report_stats(ctx: JobContext, stats: LiveStats) -> None:
    """The live figures for monitors, each second, when the runtime takes them."""
    set_stats = getattr(ctx, "set_stats", None)
    while callable(set_stats):
        set_stats(stats.snapshot(STATS_TICKERS))
        await asyncio.sleep(STATS_INTERVAL_SECONDS)
