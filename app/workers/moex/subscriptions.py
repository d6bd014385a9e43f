"""What one ticker subscription is, and how its messages become normalized records."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from app.workers.moex import normalize
from app.workers.moex.decode import KEY_COLUMNS, Message, Table
from app.workers.moex.errors import MoexJobInvalid

STREAMS = {"ws_candles": "candles", "ws_orderbooks": "orderbooks", "ws_securities": "securities"}
INTERVALS = frozenset({"M1", "M10", "H1", "D1", "W1", "m1", "Q1"})


def stream_for(job_type: str) -> str:
    try:
        return STREAMS[job_type]
    except KeyError:
        raise MoexJobInvalid(f"unknown MOEX job type {job_type!r}") from None


def subscription_for(
    ticker: str, stream: str, interval: str | None, market: str = "MXSE", board: str = "TQBR"
) -> Subscription:
    """`SBER` trades on MXSE.TQBR by default; `MXSE.TQBR.SBER` names market and board."""
    parts = ticker.split(".")
    if len(parts) == 3:
        market, board, ticker = parts
    return Subscription(ticker, market, board, stream, interval)


@dataclass
class Subscription:
    symbol: str
    market: str
    board: str
    stream: str
    interval: str | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    table: Table = field(init=False)
    newest: int | None = None
    """Candles: the open time (ms) of the newest candle handled."""
    dropped_at: int | None = None
    """Candles: the newest open time when the connection dropped, until a new one comes."""
    missed: tuple[int, int] | None = None
    """Candles: opened within these (ms, inclusive) and not delivered: for `take_missed`."""

    def __post_init__(self) -> None:
        self.table = Table(KEY_COLUMNS[self.stream])

    @property
    def destination(self) -> str:
        return f"{self.market}.{self.stream}"

    @property
    def selector(self) -> str:
        selector = f'TICKER="{self.market}.{self.board}.{self.symbol}"'
        return selector + (f' and interval="{self.interval}"' if self.interval else "")

    def headers(self) -> dict[str, str]:
        return {
            "id": self.id,
            "receipt": self.id,
            "destination": self.destination,
            "selector": self.selector,
        }

    @property
    def stream_name(self) -> str:
        """How gaps name this subscription: `MXSE.candles/MXSE.TQBR.SBER/M1`."""
        return f"{self.destination}/{self.market}.{self.board}.{self.symbol}/{self.interval}"

    def dropped(self) -> None:
        """The connection ended: the candle in progress may miss its close, and so may
        every one until the next session delivers candles again."""
        if self.stream == "candles" and self.newest is not None and self.dropped_at is None:
            self.dropped_at = self.newest

    def take_missed(self) -> tuple[int, int] | None:
        missed, self.missed = self.missed, None
        return missed

    def _follow(self, candles: list[Any]) -> None:
        """After a drop, the first candles delivered again: the snapshot covers the drop
        when it reaches back to the candle in progress, else the rest was missed."""
        opened = [candle["open_time"] for candle in candles if candle["open_time"]]
        if not opened:
            return
        first, self.newest = min(opened), max([*opened, self.newest or 0])
        if self.dropped_at is not None:
            if first > self.dropped_at:
                self.missed = (self.dropped_at, first - 1)
            self.dropped_at = None

    def records(self, message: Message) -> list[Any]:
        """Apply the message to the table; the records it produces (none for a removal)."""
        touched = self.table.apply(message)
        if self.stream == "orderbooks":
            rows = list(self.table.rows.values())
            return [normalize.book(self.symbol, rows, message.seqnum, message.timestamp_ms)]
        if message.type == "removal":
            return []
        if self.stream == "candles":
            candles = [
                normalize.candle(self.symbol, self.interval or "M1", row, message.timestamp_ms)
                for row in touched
            ]
            self._follow(candles)
            return candles
        return [
            normalize.ticker(self.symbol, row, message.seqnum, message.timestamp_ms)
            for row in touched
        ]
