"""Live figures of a stream job for monitors (Telemetry.stats): connections online, update
counts, each ticker's latest prices (seed 000/001). Shared by the MOEX and Binance stream
loaders; prices come from the normalized records (app/workers/records.py)."""

from __future__ import annotations

import heapq
import time
from collections import Counter
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

FIELDS = ("open", "high", "low", "close", "volume", "bid", "ask", "last")
DIFF = "book_update"
_symbol = itemgetter("symbol")
_event_time = itemgetter("event_time")


@dataclass
class TickerFigures:
    values: dict[str, str | None] = field(default_factory=dict)
    updates: int = 0
    last_update: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            **{name: self.values.get(name) for name in FIELDS},
            "updates": self.updates,
            "last_update": self.last_update,
        }


@dataclass
class LiveStats:
    """Shared by every connection of one job; read once a second by the stats loop."""

    connections_total: int = 0
    tickers_total: int = 0
    online: set[int] = field(default_factory=set)
    updates: int = 0
    records: int = 0
    last_event_ms: int | None = None
    tickers: dict[str, TickerFigures] = field(default_factory=dict)

    def observe(self, records: list[Any]) -> None:
        """Count one message and remember the newest figures of each record's ticker."""
        self.updates += 1
        self.records += len(records)
        for record in records:
            self._remember(record)

    def observe_each(self, records: list[Any]) -> None:
        """Records that came one per message (Binance streams), taken a batch at a time:
        counted per ticker, whose prices come from its latest record that has any (a
        book_update has none). Per record this was 0.8 us, a fifth of a stream job's work;
        the latest are found walking back from the newest (a few records, not the batch)."""
        if not records:
            return
        self.updates += len(records)
        self.records += len(records)
        counts = Counter(map(_symbol, records))
        latest = _latest_priced(records, len(counts))
        now = time.time()
        for symbol, count in counts.items():
            figures = self.tickers.setdefault(symbol, TickerFigures())
            figures.updates += count
            figures.last_update = now
            if symbol in latest:
                figures.values.update(_prices(latest[symbol]))
        newest = int(max(map(_event_time, records)))
        self.last_event_ms = max(self.last_event_ms or 0, newest)

    def _remember(self, record: dict[str, Any]) -> None:
        figures = self.tickers.setdefault(record["symbol"], TickerFigures())
        figures.updates += 1
        figures.last_update = time.time()
        self.last_event_ms = max(self.last_event_ms or 0, int(record["event_time"]))
        figures.values.update(_prices(record))

    def snapshot(self, limit: int = 50) -> dict[str, Any]:
        """The Telemetry.stats dict, with only the `limit` most active tickers."""
        busiest = heapq.nlargest(limit, self.tickers.items(), key=lambda item: item[1].updates)
        return {
            "connections_online": len(self.online),
            "connections_total": self.connections_total,
            "updates": self.updates,
            "tickers_seen": len(self.tickers),
            "tickers_total": self.tickers_total,
            "with_prices": sum(1 for figures in self.tickers.values() if figures.values),
            "online": sorted(self.online),
            "tickers": {symbol: figures.as_dict() for symbol, figures in busiest},
        }


def _prices(record: dict[str, Any]) -> dict[str, str | None]:
    kind = record["kind"]
    if kind == "book_snapshot":
        bid = record["bids"][0][0] if record["bids"] else None
        ask = record["asks"][0][0] if record["asks"] else None
        return {"bid": bid, "ask": ask}
    if kind == "trade":
        return {"last": record["price"]}
    if kind == DIFF:
        return {}  # a diff: the best levels are not in it
    return {name: record[name] for name in FIELDS if record.get(name) is not None}


def _latest_priced(records: list[Any], symbols: int) -> dict[str, Any]:
    """Each symbol's latest record with prices (not a book_update), walking back from the
    newest until all `symbols` are found: the last few records of a batch usually name
    every symbol (a symbol with none priced makes the walk go through the batch)."""
    latest: dict[str, Any] = {}
    for record in reversed(records):
        if record["kind"] != DIFF and record["symbol"] not in latest:
            latest[record["symbol"]] = record
            if len(latest) == symbols:
                break
    return latest
