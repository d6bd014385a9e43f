"""Gap backfill from Binance REST: every gap a stream finds is written into the job's topic
with the records' own ids (so the same Kafka keys and documents), until none is missing.

Trades come from `historicalTrades` by `fromId` (spot; no API key since 2023-07-11),
aggregate trades from `aggTrades` by `fromId` (spot and futures; futures trade streams are
aggTrade streams, so futures never needs `historicalTrades`, which wants a key there),
candles from `klines` by `startTime`. Every request goes through the job's one RestClient
(its weight pacing, Retry-After, give-up), one gap at a time. A gap whose backfill fails is
`failed` and tried again after a capped backoff; a 4xx (the exchange will not serve it) is
not retried. The job runs on meanwhile: a backfill never stops the stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from app.models.gaps import Gap
from app.workers.binance import normalize
from app.workers.binance.batcher import Batcher
from app.workers.binance.errors import BinanceError, RequestRejected
from app.workers.binance.market import Market
from app.workers.binance.rest_client import RestClient
from app.workers.binance.rest_history import kline_pages
from app.workers.binance.settings import BinanceTuning
from app.workers.gaps import GapBook
from app.workers.health import GaveUp
from app.workers.moex.backoff import Backoff
from app.workers.records import now_ms

Row = Any
Normalizer = Callable[[str, str, Row, int], Any]
TRADES_LIMIT = 1000


class Incomplete(BinanceError):
    """Binance served fewer records than the gap misses."""


class Backfiller:
    """Fills the gaps handed to `submit`, in order, for as long as the job runs."""

    def __init__(
        self,
        market: Market,
        client: RestClient,
        book: GapBook,
        batcher: Batcher,
        tuning: BinanceTuning,
    ) -> None:
        self.market, self.client, self.book, self.batcher = market, client, book, batcher
        self._waiting: asyncio.Queue[Gap] = asyncio.Queue()
        self._backoff = Backoff(tuning.reconnect_initial_s, tuning.reconnect_max_s)

    def submit(self, gap: Gap) -> None:
        self._waiting.put_nowait(gap)

    async def run(self) -> None:
        """Forever (the stream job cancels it): take a gap, fill it, or note why not."""
        while True:
            gap = await self._waiting.get()
            try:
                await self.fill(gap)
            except RequestRejected as error:
                self.book.failed(gap, f"{error.message} (not retried)")
            except (BinanceError, GaveUp) as error:
                self.book.failed(gap, error.message)
                await asyncio.sleep(self._backoff.next_delay())
                self.submit(gap)
            else:
                self._backoff.reset()

    async def fill(self, gap: Gap) -> None:
        self.book.filling(gap)
        expected = gap["last"] - gap["first"] + 1 - gap["backfilled"]
        written = 0
        async for records in self._records(gap):
            await self.batcher.send_now(records)
            self.book.wrote(gap, len(records))
            written += len(records)
        if gap["key"] != "open_time" and written < expected:
            raise Incomplete(f"Binance served {written} of the {expected} missing records")
        self.book.filled(gap)

    async def _records(self, gap: Gap) -> AsyncIterator[list[Any]]:
        """Normalised records of the rows still missing."""
        exchange, symbol = self.market.exchange, gap["symbol"]
        pages, normal = self._source(gap)
        async for rows in pages:
            now = now_ms()
            yield [normal(exchange, symbol, row, now) for row in rows]

    def _source(self, gap: Gap) -> tuple[AsyncIterator[list[Row]], Normalizer]:
        """The REST pages of the gap and how a row becomes a record. Ids resume after the
        records a failed attempt already wrote (ids ascend without holes)."""
        prefix, symbol = self.market.api_prefix, gap["symbol"]
        resumed = (gap["first"] + gap["backfilled"], gap["last"])
        if gap["key"] == "trade_id":
            trades = id_pages(self.client, f"{prefix}/historicalTrades", symbol, resumed, "id")
            return trades, normalize.historical_trade
        if gap["key"] == "agg_id":
            return id_pages(self.client, f"{prefix}/aggTrades", symbol, resumed, "a"), (
                normalize.agg_trade
            )
        interval = gap["stream"].rsplit("_", 1)[1]
        span = (gap["first"], gap["last"])
        return kline_pages(self.client, self.market, symbol, interval, span), _candles(interval)


async def id_pages(
    client: RestClient, path: str, symbol: str, span: tuple[int, int], id_field: str
) -> AsyncIterator[list[Row]]:
    """Rows with ids `span[0]`..`span[1]` by `fromId`, a page of at most 1000 at a time."""
    cursor, last = span
    while cursor <= last:
        limit = min(TRADES_LIMIT, last - cursor + 1)
        rows = await client.get(path, {"symbol": symbol, "fromId": cursor, "limit": limit})
        inside = [row for row in rows if row[id_field] <= last]
        if not inside:
            return
        yield inside
        cursor = inside[-1][id_field] + 1


def _candles(interval: str) -> Normalizer:
    def candle(exchange: str, symbol: str, row: Row, now: int) -> Any:
        return normalize.candle_from_row(exchange, symbol, interval, row, now)

    return candle
