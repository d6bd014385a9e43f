"""Kline interval arithmetic: the open time after or before a candle's (UTC, as Binance).

Every interval is a fixed length except `1M`, whose candles open on the first of each month.
"""

from __future__ import annotations

from datetime import UTC, datetime

SECOND_MS = 1000
UNIT_MS = {"s": SECOND_MS, "m": 60 * SECOND_MS, "h": 3600 * SECOND_MS, "d": 86_400 * SECOND_MS}
UNIT_MS["w"] = 7 * UNIT_MS["d"]
MONTH = "1M"


def interval_ms(interval: str) -> int | None:
    """`5m` -> 300000; None for `1M` (months differ in length)."""
    if interval == MONTH:
        return None
    return int(interval[:-1]) * UNIT_MS[interval[-1]]


def next_open(open_time: int, interval: str) -> int:
    step = interval_ms(interval)
    return open_time + step if step is not None else _month_start(open_time, +1)


def previous_open(open_time: int, interval: str) -> int:
    step = interval_ms(interval)
    return open_time - step if step is not None else _month_start(open_time, -1)


def _month_start(epoch_ms: int, months: int) -> int:
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    index = moment.year * 12 + moment.month - 1 + months
    start = datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)
    return int(start.timestamp() * 1000)
