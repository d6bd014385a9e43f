"""Deterministic Binance stream payloads and a depth market shared by the WS and REST fakes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


def _ms() -> int:
    return time.time_ns() // 1_000_000


def _price(n: int) -> str:
    return f"{60000 + (n * 37) % 1000}.{n % 100:02d}"


EXACT = ("43000.12345678", "0.00000001", "0.010")
"""Trade prices and quantities that a binary float would not keep (every third trade)."""


def _price_of_trade(n: int) -> str:
    return EXACT[0] if n % 3 == 1 else _price(n)


def _quantity(n: int, usual: str) -> str:
    return EXACT[1] if n % 3 == 1 else usual


def trade(symbol: str, n: int, futures: bool) -> dict[str, Any]:
    now = _ms()
    return {
        "e": "trade",
        "E": now,
        "s": symbol,
        "t": n,
        "p": _price_of_trade(n),
        "q": _quantity(n, "0.010"),
        "T": now,
        "m": n % 2 == 0,
        "M": True,
    }


def agg_trade(symbol: str, n: int, futures: bool) -> dict[str, Any]:
    now = _ms()
    event = {
        "e": "aggTrade",
        "E": now,
        "s": symbol,
        "a": n,
        "p": _price_of_trade(n),
        "q": _quantity(n, "0.020"),
        "f": 2 * n,
        "l": 2 * n + 1,
        "T": now,
        "m": n % 2 == 1,
    }
    event.update({"nq": "0.020"} if futures else {"M": True})
    return event


INTERVAL_MS = {
    "1s": 1_000,
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "3d": 259_200_000,
    "1w": 604_800_000,
}


def kline_row(open_time: int, interval_ms: int) -> list[Any]:
    """The REST kline row of a candle; the WS kline events of that candle carry the same."""
    base = 60000 + (open_time // interval_ms) % 997
    close_time = open_time + interval_ms - 1
    return [
        open_time,
        f"{base}.10",
        f"{base + 5}.00",
        f"{base - 5}.00",
        f"{base}.20",
        "12.345",
        close_time,
        "740000.5",
        42,
        "6.1",
        "370000.2",
        "0",
    ]


def kline_event(symbol: str, interval: str, open_time: int, closed: bool) -> dict[str, Any]:
    """A kline event of the candle opened at `open_time` (`x`: closed), values of kline_row."""
    row = kline_row(open_time, INTERVAL_MS[interval])
    k = {
        "t": row[0],
        "T": row[6],
        "s": symbol,
        "i": interval,
        "f": 100,
        "L": 141,
        "o": row[1],
        "c": row[4],
        "h": row[2],
        "l": row[3],
        "v": row[5],
        "n": row[8],
        "x": closed,
        "q": row[7],
        "V": row[9],
        "Q": row[10],
        "B": "0",
    }
    return {"e": "kline", "E": _ms(), "s": symbol, "k": k}


def kline_events(symbol: str, interval: str, previous: int | None) -> tuple[list[Any], int]:
    """This tick's events of a kline stream: the previous candle's close when a new one has
    opened since, then an update of the current one; and the current open time."""
    step = INTERVAL_MS[interval]
    now = _ms()
    current = now - now % step
    events = []
    if previous is not None and previous < current:
        events.append(kline_event(symbol, interval, previous, closed=True))
    events.append(kline_event(symbol, interval, current, closed=False))
    return events, current


def ticker(symbol: str, n: int, futures: bool) -> dict[str, Any]:
    now = _ms()
    return {
        "e": "24hrTicker",
        "E": now,
        "s": symbol,
        "p": "10.0",
        "P": "0.02",
        "w": "60010.1",
        "x": "59990.00",
        "c": _price(n),
        "Q": "0.1",
        "b": "59999.99",
        "B": "1.2",
        "a": "60000.01",
        "A": "0.8",
        "o": "59900.00",
        "h": "61000.00",
        "l": "59000.00",
        "v": "1234.5",
        "q": "74000000.1",
        "O": now - 86_400_000,
        "C": now,
        "F": 1,
        "L": n,
        "n": n,
    }


def book_ticker(symbol: str, n: int, futures: bool) -> dict[str, Any]:
    event: dict[str, Any] = {
        "u": n,
        "s": symbol,
        "b": "59999.99",
        "B": "1.5",
        "a": "60000.01",
        "A": "2.5",
    }
    if futures:
        event.update({"e": "bookTicker", "E": _ms(), "T": _ms()})
    return event


def mark_price(symbol: str, n: int, futures: bool) -> dict[str, Any]:
    now = _ms()
    return {
        "e": "markPriceUpdate",
        "E": now,
        "s": symbol,
        "p": _price(n),
        "i": "60000.1",
        "P": "60001.0",
        "r": "0.0001",
        "T": now + 3_600_000,
    }


GENERATORS = {
    "trade": trade,
    "aggTrade": agg_trade,
    "ticker": ticker,
    "bookTicker": book_ticker,
    "markPrice": mark_price,
}


def historical_row(event: dict[str, Any]) -> dict[str, Any]:
    """A trade event as `GET /api/v3/historicalTrades` answers it."""
    quote = Decimal(event["p"]) * Decimal(event["q"])
    return {
        "id": event["t"],
        "price": event["p"],
        "qty": event["q"],
        "quoteQty": format(quote, "f"),
        "time": event["T"],
        "isBuyerMaker": event["m"],
        "isBestMatch": True,
    }


def agg_row(event: dict[str, Any]) -> dict[str, Any]:
    """An aggTrade event as `GET .../aggTrades` answers it (no `e`, `E`, `s`, `nq`)."""
    return {k: event[k] for k in ("a", "p", "q", "f", "l", "T", "m", "M") if k in event}


@dataclass
class LiveTape:
    """What happened on the live trade streams, whoever listened: the WS fake records every
    trade and aggTrade it makes (ids start at 1), the REST fake serves them by `fromId`."""

    streams: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def record(self, stream: str, event: dict[str, Any]) -> None:
        self.streams.setdefault(stream, []).append(event)

    def has(self, stream: str) -> bool:
        return stream in self.streams

    def events(self, stream: str, from_id: int | None, limit: int) -> list[dict[str, Any]]:
        """Events with ids from `from_id` (the most recent ones without it)."""
        events = self.streams.get(stream, [])
        if from_id is None:
            return events[-limit:]
        first = max(from_id - 1, 0)
        return events[first : first + limit]

    def last_id(self, stream: str) -> int:
        return len(self.streams.get(stream, []))


def _levels(low: int, high: int) -> dict[str, str]:
    return {f"{price}.00": "1.0" for price in range(low, high)}


@dataclass
class FakeBook:
    last_id: int = 1000
    bids: dict[str, str] = field(default_factory=lambda: _levels(90, 100))
    asks: dict[str, str] = field(default_factory=lambda: _levels(100, 110))


@dataclass
class DepthMarket:
    """The exchange's true books: diffs advance them, snapshots read them."""

    futures: bool = False
    books: dict[str, FakeBook] = field(default_factory=dict)
    drops: set[str] = field(default_factory=set)

    def book(self, symbol: str) -> FakeBook:
        return self.books.setdefault(symbol, FakeBook())

    def diff(self, symbol: str) -> dict[str, Any]:
        """Next diff event: ids U..u (1-3 ids), two bid and two ask changes, some deletes."""
        book = self.book(symbol)
        n = book.last_id
        first, last = n + 1, n + 1 + n % 3
        bids = [
            [f"{85 + (n * k) % 15}.00", "0" if (n + k) % 4 == 0 else f"{n % 7 + k}.5"]
            for k in (1, 2)
        ]
        asks = [
            [f"{100 + (n * k) % 15}.00", "0" if (n + k) % 5 == 0 else f"{n % 5 + k}.25"]
            for k in (3, 4)
        ]
        _apply(book.bids, bids)
        _apply(book.asks, asks)
        event = {
            "e": "depthUpdate",
            "E": _ms(),
            "s": symbol,
            "U": first,
            "u": last,
            "b": bids,
            "a": asks,
        }
        if self.futures:
            event.update({"T": _ms(), "pu": n})
        book.last_id = last
        return event

    def take_drop(self, symbol: str) -> bool:
        """True once after `drops.add(symbol)`: that diff is lost on the wire (a gap)."""
        if symbol in self.drops:
            self.drops.discard(symbol)
            return True
        return False

    def snapshot(self, symbol: str, limit: int) -> dict[str, Any]:
        book = self.book(symbol)
        bids = sorted(book.bids.items(), key=lambda level: -float(level[0]))[:limit]
        asks = sorted(book.asks.items(), key=lambda level: float(level[0]))[:limit]
        answer: dict[str, Any] = {
            "lastUpdateId": book.last_id,
            "bids": [list(b) for b in bids],
            "asks": [list(a) for a in asks],
        }
        if self.futures:
            answer.update({"E": _ms(), "T": _ms()})
        return answer


def _apply(side: dict[str, str], changes: list[list[str]]) -> None:
    for price, quantity in changes:
        if quantity == "0":
            side.pop(price, None)
        else:
            side[price] = quantity
