"""Deterministic Binance stream payloads and a depth market shared by the WS and REST fakes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


def _ms() -> int:
    return time.time_ns() // 1_000_000


def _price(n: int) -> str:
    return f"{60000 + (n * 37) % 1000}.{n % 100:02d}"


def trade(symbol: str, n: int, futures: bool) -> dict[str, Any]:
    now = _ms()
    return {
        "e": "trade",
        "E": now,
        "s": symbol,
        "t": n,
        "p": _price(n),
        "q": "0.010",
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
        "p": _price(n),
        "q": "0.020",
        "f": 2 * n,
        "l": 2 * n + 1,
        "T": now,
        "m": n % 2 == 1,
    }
    event.update({"nq": "0.020"} if futures else {"M": True})
    return event


def kline(symbol: str, n: int, futures: bool, interval: str = "1m") -> dict[str, Any]:
    now = _ms()
    start = now - now % 60_000
    k = {
        "t": start,
        "T": start + 59_999,
        "s": symbol,
        "i": interval,
        "f": n,
        "L": n + 3,
        "o": "60000.00",
        "c": _price(n),
        "h": "61000.00",
        "l": "59000.00",
        "v": "1.5",
        "n": 4,
        "x": n % 10 == 9,
        "q": "90000.0",
        "V": "0.7",
        "Q": "42000.0",
        "B": "0",
    }
    return {"e": "kline", "E": now, "s": symbol, "k": k}


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
    "kline": kline,
    "ticker": ticker,
    "bookTicker": book_ticker,
    "markPrice": mark_price,
}


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
