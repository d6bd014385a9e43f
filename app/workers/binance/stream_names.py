"""Which streams a job type subscribes, which handler reads them, and how they are grouped."""

from __future__ import annotations

from collections.abc import Callable
from itertools import groupby
from typing import Any

from app.errors import InvalidInput
from app.models.catalog import interval_of, is_stream
from app.workers.binance import normalize
from app.workers.binance.market import Market

Normalizer = Callable[[str, Any, int], Any]
"""(exchange, event as the stream's decoder made it, received ms) -> a record."""


def stream_suffix(job_type: str, market: Market) -> str:
    """`ws_candles_5m` -> `kline_5m`; futures has no raw trade stream, so trades -> aggTrade."""
    interval = interval_of(job_type)
    if interval is not None and is_stream(job_type):
        return f"kline_{interval}"
    suffixes = {
        "ws_trades": "aggTrade" if market.futures else "trade",
        "ws_agg_trades": "aggTrade",
        "ws_ticker": "ticker",
        "ws_book_ticker": "bookTicker",
        "ws_depth": "depth@100ms",
        "ws_mark_price": "markPrice",
    }
    if job_type not in suffixes:
        raise InvalidInput(f"not a Binance stream job type: {job_type}")
    return suffixes[job_type]


NORMALIZERS: dict[str, Normalizer] = {
    "trade": normalize.trade,
    "aggTrade": normalize.ws_agg_trade,
    "kline": normalize.kline,
    "ticker": normalize.ticker_24h,
    "bookTicker": normalize.book_ticker,
    "markPrice": normalize.mark_price,
}


def normalizer_for(suffix: str) -> Normalizer:
    return NORMALIZERS[suffix.split("_", 1)[0]]


def streams_for(symbols: list[str], suffix: str) -> list[str]:
    return [f"{symbol.lower()}@{suffix}" for symbol in symbols]


def plan_connections(
    streams: list[str], market: Market, per_connection: int
) -> list[tuple[str, list[str]]]:
    """(route, streams) per connection: one route per connection, at most N streams each."""
    ordered = sorted(streams, key=market.ws_route)
    plan = []
    for route, group in groupby(ordered, key=market.ws_route):
        names = list(group)
        for first in range(0, len(names), per_connection):
            plan.append((route, names[first : first + per_connection]))
    return plan
