"""One stored day of one series, and how a report merges into it.

The store keeps a document per (exchange, symbol, data type, UTC day): the runs that landed
(app/coverage/runs.py), the times of the first and last record, the collections holding
them and the last failed load of the day. Merging is a union (runs, collections), a
minimum and a maximum (times) and the newer failure: applying a report twice, or reports
in any order, ends in the same document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from app.coverage.runs import Run, as_lists, from_lists, merge_runs
from app.models.coverage import DAY_MS, SERIES_KINDS

MAX_COLLECTIONS = 20
"""A day names at most this many collections (the newest kept): loads of one day into
ever new collections must not grow its document without bound."""


@dataclass(frozen=True, slots=True)
class Failure:
    """A load that covered the day ended failed."""

    reason: str
    queue_id: str
    at_ms: int


@dataclass(slots=True)
class DayRecord:
    exchange: str
    symbol: str
    data_type: str
    day: date
    runs: list[Run] = field(default_factory=list)
    first_ms: int | None = None
    last_ms: int | None = None
    collections: list[str] = field(default_factory=list)
    failure: Failure | None = None

    @property
    def key(self) -> str:
        return day_key(self.exchange, self.symbol, self.data_type, self.day)

    @property
    def landed(self) -> bool:
        """Some record of the day landed (a run, or only an unclosed candle)."""
        return bool(self.runs) or self.first_ms is not None

    def to_doc(self) -> dict[str, Any]:
        failure = self.failure
        return {
            "exchange": self.exchange,
            "symbol": self.symbol,
            "data_type": self.data_type,
            "day": self.day.isoformat(),
            "runs": as_lists(self.runs),
            "first_ms": self.first_ms,
            "last_ms": self.last_ms,
            "collections": self.collections,
            "failure": None
            if failure is None
            else {"reason": failure.reason, "queue_id": failure.queue_id, "at_ms": failure.at_ms},
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> DayRecord:
        failure = doc.get("failure")
        return cls(
            exchange=doc["exchange"],
            symbol=doc["symbol"],
            data_type=doc["data_type"],
            day=date.fromisoformat(doc["day"]),
            runs=from_lists(doc.get("runs") or []),
            first_ms=doc.get("first_ms"),
            last_ms=doc.get("last_ms"),
            collections=list(doc.get("collections") or []),
            failure=Failure(**failure) if failure else None,
        )


def day_key(exchange: str, symbol: str, data_type: str, day: date) -> str:
    """`binance:BTCUSDT:candles_1m:2024-01-01`: the document key (legal in ArangoDB)."""
    return f"{exchange}:{symbol}:{data_type}:{day.isoformat()}"


def merged(stored: DayRecord | None, update: DayRecord) -> DayRecord:
    """`update` merged into `stored` (a new record; neither is changed)."""
    if stored is None:
        stored = DayRecord(update.exchange, update.symbol, update.data_type, update.day)
    step = SERIES_KINDS[update.data_type].step
    return DayRecord(
        exchange=stored.exchange,
        symbol=stored.symbol,
        data_type=stored.data_type,
        day=stored.day,
        runs=merge_runs([*stored.runs, *update.runs], step),
        first_ms=_lowest(stored.first_ms, update.first_ms),
        last_ms=_highest(stored.last_ms, update.last_ms),
        collections=_union(stored.collections, update.collections),
        failure=_newer(stored.failure, update.failure),
    )


def _lowest(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _highest(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


def _union(kept: list[str], new: list[str]) -> list[str]:
    names = [*kept, *(name for name in new if name not in kept)]
    return names[-MAX_COLLECTIONS:]


def _newer(a: Failure | None, b: Failure | None) -> Failure | None:
    if a is None or b is None:
        return a or b
    return b if b.at_ms >= a.at_ms else a


def day_start_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def day_of_ms(epoch_ms: int) -> date:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).date()


def day_end_ms(day: date) -> int:
    return day_start_ms(day) + DAY_MS - 1


def iso(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class SeriesFilter:
    """Which series: None matches any exchange, symbol or data type."""

    exchange: str | None = None
    symbol: str | None = None
    data_type: str | None = None


@dataclass(frozen=True, slots=True, order=True)
class Series:
    """One stored series and the first and last day it has a document for."""

    exchange: str
    symbol: str
    data_type: str
    first_day: date
    last_day: date
