"""MOEX rows -> the normalized record schema (app/workers/records.py).

MOEX times are Moscow local time, which has been UTC+3 all year since 2014.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from app.workers.moex.decode import Row, fixed
from app.workers.records import Book, Candle, Level, Ticker, candle_id, now_ms, record_id

EXCHANGE = "moex"
MOSCOW = timezone(timedelta(hours=3))


def moscow_ms(value: Any) -> int:
    """ "2026-01-22 09:58:52" (Moscow) -> epoch milliseconds; 0 when absent."""
    if not value:
        return 0
    moment = datetime.fromisoformat(str(value)).replace(tzinfo=MOSCOW)
    return int(moment.timestamp() * 1000)


def moscow_text(epoch_ms: int) -> str:
    """Epoch milliseconds as MOEX writes times: `2026-01-22 09:58:52`, Moscow."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=MOSCOW)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def candle(symbol: str, interval: str, row: Row, event_ms: int | None) -> Candle:
    received = now_ms()
    open_time, close_time = moscow_ms(row.get("FROM")), moscow_ms(row.get("TILL"))
    return Candle(
        id=candle_id(EXCHANGE, symbol, interval, open_time),
        kind="candle",
        exchange=EXCHANGE,
        symbol=symbol,
        event_time=event_ms or received,
        received_time=received,
        interval=interval,
        open_time=open_time,
        close_time=close_time,
        open=fixed(row.get("OPEN")) or "",
        high=fixed(row.get("HIGH")) or "",
        low=fixed(row.get("LOW")) or "",
        close=fixed(row.get("CLOSE")) or "",
        volume=fixed(row.get("VOLUME")) or "0",
        quote_volume=fixed(row.get("VALUE")),
        trades=None,
        closed=bool(close_time) and close_time <= (event_ms or received),
    )


def book(symbol: str, rows: list[Row], seqnum: int, event_ms: int | None) -> Book:
    """The whole current book of one subscription: bids high to low, asks low to high.

    The id carries the time as well as `seqnum`, which may restart after a reconnect."""
    received = now_ms()
    bids = _levels(rows, "B", descending=True)
    asks = _levels(rows, "S", descending=False)
    return Book(
        id=record_id(EXCHANGE, symbol, "book_snapshot", event_ms or received, seqnum),
        kind="book_snapshot",
        exchange=EXCHANGE,
        symbol=symbol,
        event_time=event_ms or received,
        received_time=received,
        bids=bids,
        asks=asks,
        first_update_id=None,
        last_update_id=seqnum,
    )


def _levels(rows: list[Row], side: str, *, descending: bool) -> list[Level]:
    chosen = [r for r in rows if r.get("BUYSELL") == side and r.get("PRICE") is not None]
    levels = [(fixed(r["PRICE"]) or "", fixed(r.get("QUANTITY")) or "0") for r in chosen]
    return sorted(levels, key=lambda level: Decimal(level[0]), reverse=descending)


def ticker(symbol: str, row: Row, seqnum: int, event_ms: int | None) -> Ticker:
    """`seqnum` in the id keeps two updates within one server second apart."""
    received = now_ms()
    return Ticker(
        id=record_id(EXCHANGE, symbol, "ticker", event_ms or received, seqnum),
        kind="ticker",
        exchange=EXCHANGE,
        symbol=symbol,
        event_time=event_ms or received,
        received_time=received,
        last=fixed(row.get("LAST")),
        bid=fixed(row.get("BID")),
        bid_quantity=fixed(row.get("BIDDEPTH")),
        ask=fixed(row.get("OFFER")),
        ask_quantity=fixed(row.get("OFFERDEPTH")),
        open=fixed(row.get("OPEN")),
        high=fixed(row.get("HIGH")),
        low=fixed(row.get("LOW")),
        volume=fixed(row.get("VOLTODAY")),
    )
