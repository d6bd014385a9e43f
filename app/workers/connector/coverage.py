"""What the connector wrote, per series and UTC day, reported to the service's coverage map.

The ledger turns every written document it can place into a point of a run
(app/coverage/runs.py): a closed candle proves its own span, a trade the time strictly
between its neighbours, and a trade the loader marked with `bound_from_ms` / `bound_to_ms`
(the first trade at or after its range's start, the last at or before its end) proves the
time up to that bound. Documents of other kinds, of MOEX, of candles longer than a day, or
without an integer key are not in the map.

The reporter sends the days that changed as `coverage` messages on queue-control (key =
queue id), at most once per telemetry interval, and once more at the end, before the job's
final telemetry; a load that ends failed says so for its whole range. Each message carries
the job's whole knowledge of the days it names, and the service merges by union, so a lost
chance to send is made up by the next one and a repeated one changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

import structlog

from app.bus import Bus
from app.coverage.days import day_of_ms
from app.coverage.runs import Run, merge_runs
from app.errors import BrokerUnavailable, QueueManagerError
from app.models.coverage import COVERED_EXCHANGES, SERIES_KINDS, data_type_of, is_history
from app.models.messages import MAX_COVERAGE_DAYS, CoverageDay, CoverageFailure, CoverageReport
from app.models.queues import parse_time_range, utcnow
from app.retries import retrying
from app.workers.base import JobEnv

log = structlog.get_logger("app.workers.connector.coverage")
EXCHANGES = frozenset(exchange.value for exchange in COVERED_EXCHANGES)
FINAL_REPORT_SECONDS = 10.0
RUN_BYTES = 90
"""A run's JSON at most: four 19-digit integers and their punctuation."""
RUNS_PER_MESSAGE = 5_000


class DayKey(NamedTuple):
    exchange: str
    symbol: str
    data_type: str
    day: date


class Point(NamedTuple):
    key: DayKey
    time_ms: int
    run: Run | None
    """None for a candle not yet closed: it landed, but proves no time."""


@dataclass
class _Day:
    runs: list[Run] = field(default_factory=list)
    first_ms: int | None = None
    last_ms: int | None = None


class CoverageLedger:
    """Every day this job wrote to, with its runs; what of them is not sent yet.

    A day with many runs (a stream with many holes) is sent in slices: merges are unions,
    so a slice is as good as the whole, and each message stays under half the broker's size
    limit (at most RUNS_PER_MESSAGE runs, MAX_COVERAGE_DAYS days)."""

    def __init__(self) -> None:
        self._days: dict[DayKey, _Day] = {}
        self._unsent: dict[DayKey, int] = {}
        """Changed days, in the order they changed, each with how many of its runs went out
        since (a day that changes again is sent whole again)."""

    def add(self, documents: Iterable[dict[str, Any]]) -> None:
        fresh: dict[DayKey, list[Run]] = {}
        for document in documents:
            point = point_of(document)
            if point is None:
                continue
            day = self._days.setdefault(point.key, _Day())
            day.first_ms = (
                point.time_ms if day.first_ms is None else min(day.first_ms, point.time_ms)
            )
            day.last_ms = point.time_ms if day.last_ms is None else max(day.last_ms, point.time_ms)
            self._unsent[point.key] = 0
            if point.run is not None:
                fresh.setdefault(point.key, []).append(point.run)
        for key, runs in fresh.items():
            day = self._days[key]
            day.runs = merge_runs([*day.runs, *runs], SERIES_KINDS[key.data_type].step)

    def changed(
        self, days: int = MAX_COVERAGE_DAYS, runs: int = RUNS_PER_MESSAGE
    ) -> list[CoverageDay]:
        """The next message's worth: up to `days` days and `runs` runs not sent yet."""
        picked: list[CoverageDay] = []
        for key, offset in self._unsent.items():
            if len(picked) == days or runs <= 0:
                break
            day = self._days[key]
            part = day.runs[offset : offset + runs]
            picked.append(_report_day(key, day, part))
            runs -= max(1, len(part))
        return picked

    def sent(self, days: Iterable[CoverageDay]) -> None:
        for sent in days:
            key = DayKey(sent.exchange, sent.symbol, sent.data_type, sent.day)
            offset = self._unsent.get(key, 0) + len(sent.runs)
            if offset >= len(self._days[key].runs):
                self._unsent.pop(key, None)
            else:
                self._unsent[key] = offset

    @property
    def has_changes(self) -> bool:
        return bool(self._unsent)


def _report_day(key: DayKey, day: _Day, runs: list[Run]) -> CoverageDay:
    return CoverageDay(
        exchange=key.exchange,  # type: ignore[arg-type]  # checked by point_of
        symbol=key.symbol,
        data_type=key.data_type,
        day=key.day,
        runs=[tuple(run) for run in runs],  # type: ignore[misc]
        first_ms=day.first_ms,
        last_ms=day.last_ms,
    )


def point_of(record: dict[str, Any]) -> Point | None:
    """Where a written record lies in the coverage map, or None when the map keeps no such
    record (docs/architecture.md, "Coverage")."""
    exchange, symbol = record.get("exchange"), record.get("symbol")
    if exchange not in EXCHANGES or not isinstance(symbol, str):
        return None
    kind = record.get("kind")
    if kind == "candle":
        return _candle_point(exchange, symbol, record)
    if kind == "trade":
        return _trade_point(exchange, symbol, record)
    return None


def _candle_point(exchange: str, symbol: str, record: dict[str, Any]) -> Point | None:
    data_type = f"candles_{record.get('interval')}"
    kind = SERIES_KINDS.get(data_type)
    open_time = _int(record.get("open_time"))
    if kind is None or open_time is None or open_time % kind.step:
        return None
    key = DayKey(exchange, symbol, data_type, day_of_ms(open_time))
    closed = record.get("closed") is True
    run = Run(open_time, open_time, open_time, open_time + kind.step - 1) if closed else None
    return Point(key, open_time, run)


def _trade_point(exchange: str, symbol: str, record: dict[str, Any]) -> Point | None:
    trade_id, at = record.get("trade_id"), _int(record.get("event_time"))
    if not isinstance(trade_id, str) or at is None:
        return None
    prefix, _, number = trade_id.rpartition(":")
    if prefix not in ("", "agg") or not number.isdigit():
        return None
    key = DayKey(exchange, symbol, "agg_trades" if prefix else "trades", day_of_ms(at))
    bound_from, bound_to = _int(record.get("bound_from_ms")), _int(record.get("bound_to_ms"))
    low = at + 1 if bound_from is None else min(bound_from, at)
    high = at - 1 if bound_to is None else max(bound_to, at)
    return Point(key, at, Run(int(number), int(number), low, high))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class CoverageReporter:
    """Sends the ledger's changed days on queue-control, at most once per interval."""

    def __init__(self, bus: Bus, env: JobEnv, collection: str) -> None:
        self.bus, self.env, self.collection = bus, env, collection
        self.ledger = CoverageLedger()
        self._last_sent = time.monotonic()
        self._runs_per_message = min(
            RUNS_PER_MESSAGE, max(10, env.kafka_max_message_bytes // 2 // RUN_BYTES)
        )
        """Half the broker's message limit at most, days and names included."""

    async def wrote(self, documents: Iterable[dict[str, Any]]) -> None:
        """Documents landed; report now when an interval has passed (a failed send is
        logged and tried again next time: the copy never waits on coverage)."""
        self.ledger.add(documents)
        if not self.ledger.has_changes:
            return
        if time.monotonic() - self._last_sent < self.env.telemetry_interval_seconds:
            return
        try:
            await self.flush()
        except QueueManagerError as error:
            log.warning("coverage report not sent; the next one carries it", error=error.message)

    async def flush(self, failed: CoverageFailure | None = None) -> None:
        """Send every changed day (in messages of MAX_COVERAGE_DAYS), and `failed`."""
        self._last_sent = time.monotonic()
        while self.ledger.has_changes or failed is not None:
            days = self.ledger.changed(runs=self._runs_per_message)
            await self._send(
                CoverageReport(
                    queue_id=self.env.queue_id,
                    job=self.env.job_name,
                    collection=self.collection,
                    days=days,
                    failed=failed,
                    ts=utcnow(),
                )
            )
            self.ledger.sent(days)
            failed = None

    async def finish(self, failure: str | None = None) -> None:
        """The last report, retried for up to FINAL_REPORT_SECONDS: what is left, and, when
        the load ended failed (`failure` says why), its range as failed."""
        failed = failure_of(self.env, failure) if failure is not None else None
        async for attempt in retrying(
            "report coverage", on=BrokerUnavailable, attempts=None, timeout=FINAL_REPORT_SECONDS
        ):
            with attempt:
                await self.flush(failed)

    async def _send(self, report: CoverageReport) -> None:
        await self.bus.send_json(self.env.queue_control_topic, self.env.queue_id, report)
        log.info("coverage reported", days=len(report.days), failed=report.failed is not None)


def failure_of(env: JobEnv, reason: str) -> CoverageFailure | None:
    """The failed load's series and days: a history load of a data type the map keeps."""
    data_type = data_type_of(env.job_type)
    if data_type is None or not is_history(env.job_type) or env.exchange not in EXCHANGES:
        return None
    try:
        first, last = parse_time_range(env.time_range)
    except ValueError:
        return None
    symbols = [s for s in env.symbol_list if s][:2000]
    if not symbols:
        return None
    return CoverageFailure(
        exchange=env.exchange,  # type: ignore[arg-type]  # one of EXCHANGES
        symbols=symbols,
        data_type=data_type,
        first_day=first,
        last_day=last,
        reason=reason[:1000],
    )
