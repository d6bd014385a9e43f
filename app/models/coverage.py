"""The coverage map's vocabulary: which data types it keeps, their keys, the day states, and
the shapes of its answers (docs/architecture.md, "Coverage")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.models.catalog import (
    HISTORY_PREFIX,
    KLINE_INTERVALS,
    SYMBOL_HINTS,
    SYMBOL_PATTERNS,
    Exchange,
    interval_of,
)
from app.models.problems import FieldProblem

COVERED_EXCHANGES = (Exchange.BINANCE, Exchange.BINANCE_FUTURES)
"""MOEX trades in sessions: its candles have no slot rule and its streams carry no ids."""
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
DAY_MS = 86_400_000
KeyName = Literal["open_time", "trade_id", "agg_id"]
"""What orders a series, named as the gap records of stream jobs name it."""


class DayState(StrEnum):
    COMPLETE = "complete"
    PARTIAL = "partial"
    MISSING = "missing"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SeriesKind:
    """How one data type is keyed: by candle open time (step = the interval) or by trade
    or aggregate id (step 1); `history_type` is the loader type that loads it over REST."""

    data_type: str
    key: KeyName
    step: int
    history_type: str | None

    @property
    def keyed_by_time(self) -> bool:
        return self.key == "open_time"


def interval_ms(interval: str) -> int | None:
    """`5m` -> 300000; None for intervals a day does not hold a whole number of (3d, 1w, 1M)."""
    match = re.fullmatch(r"(\d+)([smhd])", interval)
    if match is None:
        return None
    step = int(match.group(1)) * _UNIT_MS[match.group(2)]
    return step if DAY_MS % step == 0 else None


def _kinds() -> dict[str, SeriesKind]:
    kinds = {
        "trades": SeriesKind("trades", "trade_id", 1, None),
        "agg_trades": SeriesKind("agg_trades", "agg_id", 1, "api_agg_trades"),
    }
    for interval in KLINE_INTERVALS:
        step = interval_ms(interval)
        if step is not None:
            name = f"candles_{interval}"
            kinds[name] = SeriesKind(name, "open_time", step, f"api_candles_{interval}")
    return kinds


SERIES_KINDS = _kinds()
DATA_TYPES = tuple(SERIES_KINDS)
AGG_TRADE_TYPES = frozenset({"api_trades", "api_agg_trades", "ws_agg_trades"})
"""api_trades is loaded from aggTrades (app/workers/binance/rest_history.py)."""


def data_type_of(job_type: str) -> str | None:
    """The data type a loader or connector type lands (`api_candles_5m` -> `candles_5m`,
    `api_trades` -> `agg_trades`), or None when the coverage map does not keep it."""
    if job_type in AGG_TRADE_TYPES:
        return "agg_trades"
    if job_type == "ws_trades":
        return "trades"
    interval = interval_of(job_type)
    name = f"candles_{interval}"
    return name if interval is not None and name in SERIES_KINDS else None


def data_type_named(text: str) -> str | None:
    """A data type given by its name or by a loader type that lands it."""
    return text if text in SERIES_KINDS else data_type_of(text)


def is_history(job_type: str) -> bool:
    return job_type.startswith(HISTORY_PREFIX)


MAX_DAYS = 366
"""A map or a fill spans at most this many days."""
TYPE_HINT = (
    "candles_<interval> (intervals 1s to 1d), agg_trades or trades, or a loader type that "
    "lands one (api_candles_1m, api_trades, ws_agg_trades, ...)"
)


class CoverageQuery(BaseModel):
    """Which series and days: GET /coverage and POST /coverage/fill. Unset, `to` is the
    newest stored day of the matching series (today when none is stored) and `from` their
    oldest, at most MAX_DAYS before `to`."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    exchange: Exchange | None = Field(default=None, examples=["binance"])
    symbol: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True)] | None = Field(
        default=None, max_length=24, examples=["BTCUSDT"]
    )
    type: str | None = Field(
        default=None, max_length=48, examples=["candles_1m"], description=TYPE_HINT
    )
    start: date | None = Field(default=None, alias="from", description="first day, YYYY-MM-DD")
    end: date | None = Field(default=None, alias="to", description="last day, YYYY-MM-DD")

    @model_validator(mode="after")
    def _valid(self) -> CoverageQuery:
        if self.exchange is Exchange.MOEX:
            raise FieldProblem(
                "exchange",
                "the coverage map keeps binance and binance-futures (MOEX "
                "trades in sessions: its candles have no slot rule, its streams no ids)",
            )
        self._check_symbol()
        if self.type is not None and data_type_named(self.type) is None:
            raise FieldProblem("type", f"unknown data type {self.type!r}; one of {TYPE_HINT}")
        if self.start and self.end and self.start > self.end:
            raise FieldProblem("from", f"{self.start} is after to ({self.end})")
        if self.start and self.end and (self.end - self.start).days >= MAX_DAYS:
            raise FieldProblem("to", f"at most {MAX_DAYS} days from `from`")
        return self

    def _check_symbol(self) -> None:
        if self.symbol is None:
            return
        exchange = self.exchange or Exchange.BINANCE
        if not SYMBOL_PATTERNS[exchange].match(self.symbol):
            raise FieldProblem("symbol", f"{self.symbol!r}: {SYMBOL_HINTS[exchange]}")

    @property
    def data_type(self) -> str | None:
        return data_type_named(self.type) if self.type is not None else None

    @property
    def series_named(self) -> bool:
        """Exchange, symbol and type all given: one series, stored or not."""
        return bool(self.exchange and self.symbol and self.type)


# --- answers ------------------------------------------------------------------------------
class MissingSpan(BaseModel):
    """A part of a day not known to have landed: its time bounds (inclusive, epoch ms and
    ISO) and, where the neighbouring records tell them, the first and last missing keys."""

    from_ms: int
    to_ms: int
    start: str = Field(description="from_ms as ISO UTC")
    end: str = Field(description="to_ms as ISO UTC")
    key: KeyName
    first: int | None = Field(default=None, description="first missing key, when known")
    last: int | None = Field(default=None, description="last missing key, when known")


class DayCoverage(BaseModel):
    day: date
    state: DayState
    count: int = Field(description="distinct records of the day that landed (candles: closed)")
    first: str | None = Field(default=None, description="time of the day's first record")
    last: str | None = Field(default=None, description="time of the day's last record")
    missing: list[MissingSpan] = Field(default_factory=list)
    reason: str | None = Field(default=None, description="why a load of this day failed")
    collections: list[str] = Field(default_factory=list)
    loading: list[str] = Field(
        default_factory=list, description="queues whose history loader loads this day now"
    )


class SeriesCoverage(BaseModel):
    exchange: Exchange
    symbol: str
    type: str
    key: KeyName
    summary: dict[DayState, int]
    days: list[DayCoverage]


class CoverageMap(BaseModel):
    start: date = Field(description="first day shown")
    end: date = Field(description="last day shown")
    series: list[SeriesCoverage]


class FillQueue(BaseModel):
    """One history queue of a fill: a contiguous range of days not complete."""

    exchange: Exchange
    symbol: str
    type: str
    loader_type: str
    start: date
    end: date
    days: int
    collection: str | None = Field(description="where the range's records already are")
    queue_id: str
    status: Literal["started", "would_start", "running"]


class FillSkip(BaseModel):
    exchange: Exchange
    symbol: str
    type: str
    start: date
    end: date
    reason: str


class FillAnswer(BaseModel):
    dry_run: bool
    queues: list[FillQueue]
    skipped: list[FillSkip] = Field(default_factory=list)
