"""MOEX rows as normalized records: Moscow times, exact prices, stable ids."""

from __future__ import annotations

from decimal import Decimal

from app.workers.moex import normalize

ROW = {
    "FROM": "2026-01-22 09:58:00",
    "TILL": "2026-01-22 09:58:59",
    "OPEN": [Decimal("306.13"), 2],
    "HIGH": [Decimal("306.5"), 2],
    "LOW": [Decimal("306"), 2],
    "CLOSE": [Decimal("306.25"), 2],
    "VALUE": [Decimal("1234567.8"), 1],
    "VOLUME": 4000,
}


def test_moscow_time_is_utc_plus_three() -> None:
    assert normalize.moscow_ms("2026-01-22 09:58:00") == 1769065080000  # 06:58:00 UTC
    assert normalize.moscow_ms(None) == 0


def test_candle_record_is_exact_and_closed_once_its_minute_is_over() -> None:
    after = normalize.moscow_ms("2026-01-22 09:59:30")
    candle = normalize.candle("SBER", "M1", ROW, after)
    assert (candle["open"], candle["low"], candle["volume"]) == ("306.13", "306.00", "4000")
    assert candle["id"] == "moex:SBER:candle:M1:1769065080000" and candle["closed"]
    during = normalize.candle("SBER", "M1", ROW, normalize.moscow_ms("2026-01-22 09:58:30"))
    assert not during["closed"] and during["id"] == candle["id"]


def test_ticker_and_book_ids_differ_between_updates_in_one_second() -> None:
    row = {"TICKER": "SBER", "LAST": [Decimal("1.5"), 2]}
    assert (
        normalize.ticker("SBER", row, 1, 1000)["id"] != normalize.ticker("SBER", row, 2, 1000)["id"]
    )
    first, second = (normalize.book("SBER", [], seq, 1000)["id"] for seq in (1, 2))
    assert first != second
