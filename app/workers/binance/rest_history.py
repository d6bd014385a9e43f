"""REST history: klines and aggTrades for the job's TIME_RANGE, resumable, paged exactly.

`api_trades` is served from aggTrades: the raw /historicalTrades endpoint needs an API key
and has no time filter, while aggTrades pages by id over any range and carries the same
prices, quantities and sides (one aggregate per taker order and price).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, NamedTuple

from app.models.catalog import interval_of
from app.workers.base import JobContext
from app.workers.binance import normalize
from app.workers.binance.market import Market
from app.workers.binance.rest_client import RestClient
from app.workers.binance.settings import BinanceTuning
from app.workers.binance.timerange import iso_ms, parse_time_range, resume_point
from app.workers.records import now_ms

HOUR_MS = 3_600_000
Row = Any


async def kline_pages(
    client: RestClient, market: Market, symbol: str, interval: str, span: tuple[int, int]
) -> AsyncIterator[list[Row]]:
    """Pages of kline rows; the next page starts at the last open time + 1 (no overlap)."""
    cursor, end = span
    while cursor <= end:
        params = {
            "symbol": symbol,
            "interval": interval,
            "startTime": cursor,
            "endTime": end,
            "limit": market.klines_limit,
        }
        rows = await client.get(f"{market.api_prefix}/klines", params)
        if rows:
            yield rows
        if len(rows) < market.klines_limit:
            return
        cursor = int(rows[-1][0]) + 1


class AggPage(NamedTuple):
    rows: list[Row]
    past_end: bool
    """A trade after the span's end was seen: the page's last row is the span's last trade."""


async def agg_trade_pages(
    client: RestClient, market: Market, symbol: str, span: tuple[int, int]
) -> AsyncIterator[AggPage]:
    """Pages of aggTrades: find the first trade by hour windows, then follow ids.

    A short id-page means we reached the newest trade; a short window page does not.
    """
    end = span[1]
    rows = await _first_agg_page(client, market, symbol, span)
    by_id = False
    while rows:
        inside = [row for row in rows if row["T"] <= end]
        yield AggPage(inside, len(inside) < len(rows))
        if len(inside) < len(rows) or (by_id and len(rows) < market.agg_trades_limit):
            return
        params = {"symbol": symbol, "fromId": rows[-1]["a"] + 1, "limit": market.agg_trades_limit}
        rows = await client.get(f"{market.api_prefix}/aggTrades", params)
        by_id = True


async def _first_agg_page(
    client: RestClient, market: Market, symbol: str, span: tuple[int, int]
) -> list[Row]:
    """startTime/endTime windows under one hour (futures requires it) until one has trades."""
    start, end = span
    while start <= end:
        window_end = min(start + HOUR_MS - 1, end)
        params = {
            "symbol": symbol,
            "startTime": start,
            "endTime": window_end,
            "limit": market.agg_trades_limit,
        }
        rows: list[Row] = await client.get(f"{market.api_prefix}/aggTrades", params)
        if rows:
            return rows
        start += HOUR_MS
    return []


def split_complete(rows: list[Row]) -> tuple[list[Row], list[Row]]:
    """Hold back the trades of the last millisecond: the next page may have more of them.

    So a reported last_loaded_timestamp always means "every trade up to here is loaded".
    """
    last = rows[-1]["T"]
    cut = len(rows)
    while cut and rows[cut - 1]["T"] == last:
        cut -= 1
    return rows[:cut], rows[cut:]


class HistoryRun:
    """One history job: emits records in batches and reports progress after each batch."""

    def __init__(self, ctx: JobContext, market: Market, tuning: BinanceTuning) -> None:
        self.ctx = ctx
        self.market = market
        self.tuning = tuning
        self.records_written = 0
        self.client = RestClient(market.rest_url, tuning, ctx)

    def span(self) -> tuple[int, int]:
        """The range, after RESUME_FROM when it says where this load stopped: only for one
        symbol. Symbols load in turn and share one last_loaded_timestamp, so for several
        it would skip the earlier hours of the symbols not yet loaded: they load it all
        again (the connector's upserts keep each record once)."""
        start, end = parse_time_range(self.ctx.env.time_range)
        resumed = resume_point() if len(self.ctx.env.symbol_list) == 1 else None
        return (max(start, resumed + 1) if resumed is not None else start), end

    async def emit(self, records: list[Any], last_ts: int) -> None:
        for first in range(0, len(records), self.tuning.batch_size):
            await self.ctx.sink.send(records[first : first + self.tuning.batch_size])
        self.records_written += len(records)
        self.ctx.progress(self.records_written, iso_ms(last_ts))

    async def candles(self, symbol: str, interval: str) -> None:
        ex = self.market.exchange
        async for rows in kline_pages(self.client, self.market, symbol, interval, self.span()):
            now = now_ms()
            records = [normalize.candle_from_row(ex, symbol, interval, r, now) for r in rows]
            await self.emit(records, int(rows[-1][0]))

    async def agg_trades(self, symbol: str) -> None:
        """The span's trades. The first is marked as the first at or after the span's start
        and, once a later trade proved it, the last as the last at or before its end: the
        coverage map's bounds (app/workers/records.py)."""
        start, end = self.span()
        pending: list[Row] = []
        past_end = False
        first_from: int | None = start
        async for page in agg_trade_pages(self.client, self.market, symbol, (start, end)):
            past_end = page.past_end
            if not page.rows:
                break
            ready, pending = split_complete(pending + page.rows)
            await self._emit_trades(symbol, ready, bound_from=first_from)
            first_from = first_from if not ready else None
        await self._emit_trades(
            symbol, pending, bound_from=first_from, bound_to=end if past_end else None
        )

    async def _emit_trades(
        self, symbol: str, rows: list[Row], bound_from: int | None, bound_to: int | None = None
    ) -> None:
        if not rows:
            return
        now, ex = now_ms(), self.market.exchange
        records = [normalize.agg_trade(ex, symbol, row, now) for row in rows]
        if bound_from is not None:
            records[0]["bound_from_ms"] = bound_from
        if bound_to is not None:
            records[-1]["bound_to_ms"] = bound_to
        await self.emit(records, rows[-1]["T"])

    async def run(self, job_type: str) -> None:
        """Load every symbol of the job in turn, then flush the sink."""
        try:
            interval = interval_of(job_type)
            for symbol in self.ctx.env.symbol_list:
                if interval is not None:
                    await self.candles(symbol, interval)
                else:
                    await self.agg_trades(symbol)
            await self.ctx.sink.flush()
        finally:
            await self.client.aclose()
