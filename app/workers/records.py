"""The normalized record schema, one per kind, shared by every loader and the connector.

Prices and quantities stay exact: decimal strings as the exchange sent them (or Decimal
rendered with `str`), never floats. `id` is deterministic from the natural key, so a
redelivered record upserts the same document (the connector uses it as ArangoDB `_key`).
Times are epoch milliseconds (`event_time` from the exchange, `received_time` local).
"""

from __future__ import annotations

import time
from typing import Literal, NotRequired, TypedDict

Kind = Literal["candle", "trade", "ticker", "book_snapshot", "book_update"]
Level = tuple[str, str]
"""(price, quantity) as exact decimal strings."""


class _Base(TypedDict):
    id: str
    kind: Kind
    exchange: str
    symbol: str
    event_time: int
    received_time: int


class Candle(_Base):
    interval: str
    open_time: int
    close_time: int
    open: str
    high: str
    low: str
    close: str
    volume: str
    quote_volume: str | None
    trades: int | None
    closed: bool


class Trade(_Base):
    trade_id: str
    price: str
    quantity: str
    buyer_is_maker: bool | None
    bound_from_ms: NotRequired[int]
    """History loads mark their first trade: it is the first at or after this time (the
    range's start), as the exchange answered; the coverage map takes it as proof."""
    bound_to_ms: NotRequired[int]
    """...and their last: it is the last at or before this time (the range's end)."""


class Ticker(_Base):
    last: str | None
    bid: str | None
    bid_quantity: str | None
    ask: str | None
    ask_quantity: str | None
    open: str | None
    high: str | None
    low: str | None
    volume: str | None


class Book(_Base):
    bids: list[Level]
    asks: list[Level]
    first_update_id: int | None
    last_update_id: int


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def record_id(exchange: str, symbol: str, kind: Kind, *key: object) -> str:
    """`binance:BTCUSDT:candle:5m:1717200000000`: readable, valid as an ArangoDB _key."""
    return ":".join([exchange, symbol, kind, *(str(part) for part in key)])


def candle_id(exchange: str, symbol: str, interval: str, open_time: int) -> str:
    return f"{exchange}:{symbol}:candle:{interval}:{open_time}"


def trade_id(exchange: str, symbol: str, trade: str | int) -> str:
    """The same as record_id(..., "trade", trade), in a third of the time: it is made for
    every trade a stream or a backfill writes."""
    return f"{exchange}:{symbol}:trade:{trade}"
