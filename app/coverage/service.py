"""The coverage map as a service: connectors' reports in, the map and fills out."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import structlog

from app.coverage.days import DayRecord, Failure, Series, SeriesFilter
from app.coverage.fill import FillPlanner
from app.coverage.loading import Loading
from app.coverage.rules import Neighbours, day_coverage
from app.coverage.runs import Run
from app.metrics import Metrics
from app.models.catalog import Exchange
from app.models.coverage import (
    MAX_DAYS,
    SERIES_KINDS,
    CoverageMap,
    CoverageQuery,
    DayCoverage,
    DayState,
    FillAnswer,
    SeriesCoverage,
)
from app.models.messages import CoverageReport
from app.services.queue_service import QueueService
from app.store.base import CoverageStore

log = structlog.get_logger(__name__)
MAX_SERIES = 200
"""A map shows at most this many series (narrow the filter for others)."""
MAX_FAILED_DAYS = 100_000
"""Days one failed load marks at most (symbols times days)."""
ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class CoverageChange:
    """What a merge changed: the days of each series (exchange, symbol, data type)."""

    queue_id: str
    days: dict[tuple[str, str, str], list[date]]


CoverageListener = Callable[[CoverageChange], Awaitable[None]]


def utc_today() -> date:
    return datetime.now(UTC).date()


class CoverageService:
    def __init__(
        self,
        store: CoverageStore,
        queues: QueueService,
        metrics: Metrics,
        today: Callable[[], date] = utc_today,
    ) -> None:
        self.store = store
        self.queues = queues
        self.metrics = metrics
        self.today = today
        self.listeners: list[CoverageListener] = []
        """Told after each merge (the coverage.updated event publisher)."""
        self.ready = asyncio.Event()
        """Set once the store is open."""

    async def open(self) -> None:
        """The store's table or collection, created when missing."""
        await self.store.open()
        self.ready.set()

    # --- reports from connectors ----------------------------------------------------------
    async def apply(self, reports: Sequence[CoverageReport]) -> None:
        """Merge the reports of one poll (a union: a redelivered report changes nothing)."""
        updates = [update for report in reports for update in _updates_of(report)]
        await self.store.merge(updates)
        self.metrics.coverage_reports.inc(len(reports))
        self.metrics.coverage_days_merged.inc(len(updates))
        for report in reports:
            change = _change_of(report)
            for listener in self.listeners:
                await listener(change)

    # --- the map --------------------------------------------------------------------------
    async def map(self, query: CoverageQuery) -> CoverageMap:
        chosen = await self._series(query)
        start, end = self._range(query, chosen)
        loading = Loading(await self.queues.store.active())
        views = [await self._series_view(s, start, end, loading) for s in chosen]
        return CoverageMap(start=start, end=end, series=views)

    async def _series(self, query: CoverageQuery) -> list[Series]:
        which = SeriesFilter(
            query.exchange.value if query.exchange else None, query.symbol, query.data_type
        )
        found = await self.store.series(which, MAX_SERIES)
        if query.series_named and not found:
            today = self.today()
            assert which.exchange and which.symbol and which.data_type
            found = [Series(which.exchange, which.symbol, which.data_type, today, today)]
        return found

    def _range(self, query: CoverageQuery, chosen: list[Series]) -> tuple[date, date]:
        newest = max((s.last_day for s in chosen), default=self.today())
        end = query.end or (self.today() if query.start else newest)
        oldest = min((s.first_day for s in chosen), default=end)
        start = query.start or max(oldest, end - timedelta(days=MAX_DAYS - 1))
        if query.start and not query.end:
            end = min(end, start + timedelta(days=MAX_DAYS - 1))
        return start, max(start, end)

    async def _series_view(
        self, series: Series, start: date, end: date, loading: Loading
    ) -> SeriesCoverage:
        kind = SERIES_KINDS[series.data_type]
        stored = {d.day: d for d in await self.store.days(series, start - ONE_DAY, end + ONE_DAY)}
        key = (series.exchange, series.symbol, series.data_type)
        days = []
        for offset in range((end - start).days + 1):
            day = start + timedelta(days=offset)
            around = Neighbours(stored.get(day - ONE_DAY), stored.get(day + ONE_DAY))
            view = day_coverage(day, stored.get(day), around, kind)
            view.loading = loading.queues_on(key, day)
            days.append(view)
        return SeriesCoverage(
            exchange=Exchange(series.exchange),
            symbol=series.symbol,
            type=series.data_type,
            key=kind.key,
            summary=_summary(days),
            days=days,
        )

    # --- filling --------------------------------------------------------------------------
    async def fill(self, query: CoverageQuery, dry_run: bool) -> FillAnswer:
        """Start (or with `dry_run` only name) one history queue per contiguous range of
        days that are not complete and that no running load is loading."""
        coverage = await self.map(query)
        planner = FillPlanner(self.queues, self.today())
        answer = await planner.fill(coverage, dry_run)
        for queue in answer.queues:
            self.metrics.coverage_fill_queues.labels(queue.status).inc()
        return answer


def _summary(days: list[DayCoverage]) -> dict[DayState, int]:
    counts = dict.fromkeys(DayState, 0)
    for day in days:
        counts[day.state] += 1
    return counts


def _updates_of(report: CoverageReport) -> list[DayRecord]:
    updates = [
        DayRecord(
            exchange=day.exchange,
            symbol=day.symbol,
            data_type=day.data_type,
            day=day.day,
            runs=[Run(*run) for run in day.runs],
            first_ms=day.first_ms,
            last_ms=day.last_ms,
            collections=[report.collection],
        )
        for day in report.days
    ]
    return updates + _failed_days(report)


def _failed_days(report: CoverageReport) -> list[DayRecord]:
    failed = report.failed
    if failed is None:
        return []
    at = report.ts or datetime.now(UTC)
    failure = Failure(failed.reason, report.queue_id, int(at.timestamp() * 1000))
    span = (failed.last_day - failed.first_day).days + 1
    days = [failed.first_day + timedelta(days=n) for n in range(span)]
    marks = [
        DayRecord(failed.exchange, symbol, failed.data_type, day, failure=failure)
        for symbol in failed.symbols
        for day in days
    ]
    if len(marks) > MAX_FAILED_DAYS:
        log.warning("a failed load's days cut", days=len(marks), kept=MAX_FAILED_DAYS)
    return marks[:MAX_FAILED_DAYS]


def _change_of(report: CoverageReport) -> CoverageChange:
    days: dict[tuple[str, str, str], list[date]] = {}
    for day in report.days:
        days.setdefault((day.exchange, day.symbol, day.data_type), []).append(day.day)
    if report.failed is not None:
        for symbol in report.failed.symbols:
            key = (report.failed.exchange, symbol, report.failed.data_type)
            days.setdefault(key, []).extend([report.failed.first_day, report.failed.last_day])
    return CoverageChange(report.queue_id, days)
