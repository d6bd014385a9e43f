"""Where a Binance gap's records come from (the GapSource of app/workers/backfill.py).

Trades from `historicalTrades` by `fromId` (spot; no API key since 2023-07-11), aggregate
trades from `aggTrades` by `fromId` (spot and futures; futures trade streams are aggTrade
streams, so futures never needs `historicalTrades`, which wants a key there), candles from
`klines` by `startTime`. Every request goes through the job's one RestClient (its weight
pacing, Retry-After, give-up). Records carry the ids the stream would have given them, so
they land on the same Kafka keys and documents.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from app.aio import Backoff, cancel_and_wait
from app.models.gaps import Gap
from app.workers.backfill import Backfiller
from app.workers.binance import normalize
from app.workers.binance.batcher import Batcher
from app.workers.binance.errors import BinanceError, RequestRejected
from app.workers.binance.market import Market
from app.workers.binance.rest_client import RestClient
from app.workers.binance.rest_history import kline_pages
from app.workers.binance.settings import BinanceTuning
from app.workers.gaps import GapBook
from app.workers.health import GaveUp
from app.workers.records import now_ms

Row = Any
Normalizer = Callable[[str, str, list[Row], int], list[Any]]
"""A page of rows -> their records (exchange, symbol, rows, received time)."""
TRADES_LIMIT = 1000


class Incomplete(BinanceError):
    """Binance served fewer records than the gap misses: it has no more of those ids, so
    asking again will not help (the gap stays open, saying so)."""


def binance_backfiller(
    market: Market, client: RestClient, book: GapBook, batcher: Batcher, tuning: BinanceTuning
) -> Backfiller:
    """Gaps filled into the job's batcher (counted as written), retried like a stream."""
    return Backfiller(
        book,
        GapRecords(market, client),
        batcher.send_now,
        permanent=(RequestRejected, Incomplete),
        transient=(BinanceError, GaveUp),
        backoff=Backoff(tuning.reconnect_initial_s, tuning.reconnect_max_s),
    )


class GapRecords:
    """The normalised records a gap misses, page by page."""

    def __init__(self, market: Market, client: RestClient) -> None:
        self.market, self.client = market, client

    async def __call__(self, gap: Gap) -> AsyncGenerator[list[Any], None]:
        exchange, symbol = self.market.exchange, gap["symbol"]
        missing = gap["last"] - gap["first"] + 1 - gap["backfilled"]
        pages, normal = self._pages(gap)
        served = 0
        async for rows in pages:
            served += len(rows)
            yield normal(exchange, symbol, rows, now_ms())
        if gap["key"] != "open_time" and served < missing:
            raise Incomplete(f"Binance served {served} of the {missing} missing records")

    def _pages(self, gap: Gap) -> tuple[AsyncIterator[list[Row]], Normalizer]:
        """The REST pages of the gap and how a row becomes a record. Ids resume after the
        records a failed attempt already wrote (ids ascend without holes)."""
        prefix, symbol = self.market.api_prefix, gap["symbol"]
        resumed = (gap["first"] + gap["backfilled"], gap["last"])
        if gap["key"] == "trade_id":
            trades = id_pages(self.client, f"{prefix}/historicalTrades", symbol, resumed, "id")
            return trades, normalize.historical_trades
        if gap["key"] == "agg_id":
            aggregates = id_pages(self.client, f"{prefix}/aggTrades", symbol, resumed, "a")
            return aggregates, _each(normalize.agg_trade)
        interval = gap["stream"].rsplit("_", 1)[1]
        span = (gap["first"], gap["last"])
        return kline_pages(self.client, self.market, symbol, interval, span), _candles(interval)


async def id_pages(
    client: RestClient, path: str, symbol: str, span: tuple[int, int], id_field: str
) -> AsyncIterator[list[Row]]:
    """Rows with ids `span[0]`..`span[1]` by `fromId`, a page of at most 1000 at a time.

    The next page is asked for as soon as a page arrives, so Binance prepares it while this
    one is normalised and written: one request ahead, never more (the profile of `bench
    backfill` showed the client waiting on the server for a third of its time)."""
    cursor, last = span

    def ask(first: int) -> tuple[asyncio.Task[Any], int] | None:
        if first > last:
            return None
        limit = min(TRADES_LIMIT, last - first + 1)
        params = {"symbol": symbol, "fromId": first, "limit": limit}
        return asyncio.ensure_future(client.get(path, params)), limit

    ahead = ask(cursor)
    try:
        while ahead is not None:
            rows = await ahead[0]
            inside = rows if not rows or rows[-1][id_field] <= last else _upto(rows, id_field, last)
            full = len(rows) >= ahead[1]  # a short page: Binance has no more
            ahead = ask(inside[-1][id_field] + 1) if inside and full else None
            if inside:
                yield inside
    finally:
        if ahead is not None and not ahead[0].done():
            await cancel_and_wait(ahead[0])


def _upto(rows: list[Row], id_field: str, last: int) -> list[Row]:
    return [row for row in rows if row[id_field] <= last]


def _candles(interval: str) -> Normalizer:
    def candles(exchange: str, symbol: str, rows: list[Row], now: int) -> list[Any]:
        return [normalize.candle_from_row(exchange, symbol, interval, row, now) for row in rows]

    return candles


def _each(normal: Callable[[str, str, Row, int], Any]) -> Normalizer:
    def page(exchange: str, symbol: str, rows: list[Row], now: int) -> list[Any]:
        return [normal(exchange, symbol, row, now) for row in rows]

    return page
