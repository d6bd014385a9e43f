"""Fill missing: one history queue per contiguous range of days that are not complete.

The algorithm (docs/architecture.md, "Coverage"): walk each series' days in order; a day
is left alone when it is complete, when a running history load is loading it, or when it
has not begun; the others form ranges of consecutive days, cut where the collection that
holds a day's records changes (a range is loaded into that collection, so a record that
landed before is replaced, never stored twice). Each range becomes a queue of the series'
history loader and a connector into that collection, started through QueueService.start
(admission limits included) with a command id derived from the range, so its queue id is
the uuid5 of what it fills: a second identical request finds that queue. A range whose
earlier fill ended (without completing it) gets the next attempt number in its id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date, timedelta

from pydantic import ValidationError

from app.errors import QueueNotFound
from app.models.catalog import Target
from app.models.coverage import (
    SERIES_KINDS,
    CoverageMap,
    DayCoverage,
    DayState,
    FillAnswer,
    FillQueue,
    FillSkip,
    SeriesCoverage,
)
from app.models.queues import QueueCreate
from app.models.status import is_terminal
from app.services.queue_service import COMMAND_NAMESPACE, QueueService

MAX_FILL_QUEUES = 100
MAX_ATTEMPTS = 1000


@dataclass(frozen=True)
class DayRange:
    first: date
    last: date
    collection: str | None

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def ranges_to_fill(days: list[DayCoverage], today: date) -> list[DayRange]:
    """Consecutive days to load, cut where the collection holding them changes."""
    ranges: list[DayRange] = []
    for day in days:
        if day.day > today or day.state is DayState.COMPLETE or day.loading:
            continue
        home = day.collections[-1] if day.collections else None
        last = ranges[-1] if ranges else None
        joins = last is not None and last.last == day.day - timedelta(days=1)
        if last is not None and joins and (home is None or last.collection in (None, home)):
            ranges[-1] = replace(last, last=day.day, collection=last.collection or home)
        else:
            ranges.append(DayRange(day.day, day.day, home))
    return ranges


def loading_ranges(days: list[DayCoverage]) -> list[tuple[date, date, str]]:
    """Consecutive days a running load is loading, by its queue id."""
    found: list[tuple[date, date, str]] = []
    for day in days:
        if not day.loading or day.state is DayState.COMPLETE:
            continue
        queue = day.loading[0]
        if found and found[-1][2] == queue and found[-1][1] == day.day - timedelta(days=1):
            found[-1] = (found[-1][0], day.day, queue)
        else:
            found.append((day.day, day.day, queue))
    return found


class FillPlanner:
    def __init__(self, queues: QueueService, today: date) -> None:
        self.queues, self.today = queues, today

    async def fill(self, coverage: CoverageMap, dry_run: bool) -> FillAnswer:
        answer = FillAnswer(dry_run=dry_run, queues=[])
        for series in coverage.series:
            answer.queues.extend(_running(series))
            for chosen in ranges_to_fill(series.days, self.today):
                await self._fill_range(series, chosen, answer)
        return answer

    async def _fill_range(
        self, series: SeriesCoverage, chosen: DayRange, answer: FillAnswer
    ) -> None:
        loader = SERIES_KINDS[series.type].history_type
        if loader is None:
            answer.skipped.append(_skip(series, chosen, NO_HISTORY))
            return
        started = sum(1 for q in answer.queues if q.status != "running")
        if started >= MAX_FILL_QUEUES:
            answer.skipped.append(_skip(series, chosen, TOO_MANY))
            return
        try:
            create = _create(series, chosen, loader)
        except ValidationError as error:
            answer.skipped.append(_skip(series, chosen, f"no queue can load it: {error}"))
            return
        queue_id, command_id, running = await self._next_attempt(series, chosen)
        status = "running" if running else "would_start" if answer.dry_run else "started"
        if status == "started":
            await self.queues.start(create, command_id)
        answer.queues.append(
            FillQueue(
                exchange=series.exchange,
                symbol=series.symbol,
                type=series.type,
                loader_type=loader,
                start=chosen.first,
                end=chosen.last,
                days=chosen.days,
                collection=chosen.collection,
                queue_id=queue_id,
                status=status,
            )
        )

    async def _next_attempt(
        self, series: SeriesCoverage, chosen: DayRange
    ) -> tuple[str, str, bool]:
        """(queue id, command id, whether that queue runs now): the first attempt whose
        queue does not exist yet or has not ended."""
        for attempt in range(MAX_ATTEMPTS):
            command_id = fill_command_id(series, chosen, attempt)
            queue_id = str(uuid.uuid5(COMMAND_NAMESPACE, command_id))
            try:
                queue = await self.queues.get(queue_id)
            except QueueNotFound:
                return queue_id, command_id, False
            if not is_terminal(queue.status):
                return queue_id, command_id, True
        raise AssertionError(f"{MAX_ATTEMPTS} fills of one range")


NO_HISTORY = (
    "no history loader loads raw trades (api_trades loads aggregate trades): ws_trades "
    "streams backfill their own gaps"
)
TOO_MANY = f"more than {MAX_FILL_QUEUES} ranges: fill again once these are done"


def fill_command_id(series: SeriesCoverage, chosen: DayRange, attempt: int) -> str:
    """What a fill's queue is derived from: the range, where it goes, the attempt."""
    where = chosen.collection or "-"
    return (
        f"coverage-fill:{series.exchange.value}:{series.symbol}:{series.type}:"
        f"{chosen.first}:{chosen.last}:{where}:{attempt}"
    )


def _create(series: SeriesCoverage, chosen: DayRange, loader: str) -> QueueCreate:
    connector: dict[str, object] = {"target": Target.ARANGO_CONNECTOR, "type": loader}
    if chosen.collection:
        connector["collection"] = chosen.collection
    return QueueCreate.model_validate(
        {
            "exchange": series.exchange,
            "symbol": series.symbol,
            "time_range": f"{chosen.first}:{chosen.last}",
            "requests": [{"target": Target.LOADER_PRODUCER, "type": loader}, connector],
        }
    )


def _running(series: SeriesCoverage) -> list[FillQueue]:
    loader = SERIES_KINDS[series.type].history_type or ""
    return [
        FillQueue(
            exchange=series.exchange,
            symbol=series.symbol,
            type=series.type,
            loader_type=loader,
            start=first,
            end=last,
            days=(last - first).days + 1,
            collection=None,
            queue_id=queue_id,
            status="running",
        )
        for first, last, queue_id in loading_ranges(series.days)
    ]


def _skip(series: SeriesCoverage, chosen: DayRange, reason: str) -> FillSkip:
    return FillSkip(
        exchange=series.exchange,
        symbol=series.symbol,
        type=series.type,
        start=chosen.first,
        end=chosen.last,
        reason=reason,
    )
