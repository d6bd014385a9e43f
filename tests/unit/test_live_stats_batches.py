"""Live stats taken a batch at a time: counts per ticker, each ticker's prices from its
latest record that has any (a book_update has none), the newest event time."""

from __future__ import annotations

from typing import Any

from app.workers.live_stats import LiveStats


def trade(symbol: str, price: str, event_time: int) -> dict[str, Any]:
    return {"kind": "trade", "symbol": symbol, "price": price, "event_time": event_time}


def update(symbol: str, event_time: int) -> dict[str, Any]:
    return {"kind": "book_update", "symbol": symbol, "event_time": event_time}


def test_each_ticker_gets_its_count_and_its_latest_priced_record() -> None:
    stats = LiveStats()
    stats.observe_each(
        [
            trade("BTCUSDT", "1.0", 5),
            trade("ETHUSDT", "2.0", 9),
            trade("BTCUSDT", "1.5", 7),
            trade("SOLUSDT", "3.0", 6),
            update("ETHUSDT", 8),
        ]
    )
    tickers = stats.snapshot()["tickers"]
    assert {s: t["updates"] for s, t in tickers.items()} == {
        "BTCUSDT": 2,
        "ETHUSDT": 2,
        "SOLUSDT": 1,
    }
    assert {s: t["last"] for s, t in tickers.items()} == {
        "BTCUSDT": "1.5",
        "ETHUSDT": "2.0",
        "SOLUSDT": "3.0",
    }
    assert stats.last_event_ms == 9
    assert stats.updates == stats.records == 5


def test_a_ticker_with_only_book_updates_keeps_its_prices() -> None:
    stats = LiveStats()
    stats.observe_each([trade("BTCUSDT", "1.0", 1)])
    stats.observe_each([update("BTCUSDT", 2), trade("ETHUSDT", "2.0", 3), update("BTCUSDT", 4)])
    tickers = stats.snapshot()["tickers"]
    assert tickers["BTCUSDT"]["last"] == "1.0"
    assert tickers["BTCUSDT"]["updates"] == 3
    assert tickers["ETHUSDT"]["last"] == "2.0"
