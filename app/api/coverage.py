"""GET /coverage and POST /coverage/fill: what landed per day, and loading what did not."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.auth import Protected
from app.api.deps import CoverageDep, MetricsDep
from app.api.errors import documented
from app.models.coverage import CoverageMap, CoverageQuery, DayState, FillAnswer
from app.models.envelope import Envelope, ok

router = APIRouter(prefix="/coverage", tags=["coverage"])
STATES = ", ".join(state.value for state in DayState)


@router.get(
    "",
    responses=documented(422, 503),
    summary="What landed, per series and UTC day",
    description=(
        f"Per exchange, symbol and data type, one entry per day from `from` to `to`: its state "
        f"({STATES}), how many records landed, the first and last, and what is missing. "
        "Without from/to: the stored days of the matching series (at most the last 366)."
    ),
)
async def coverage_map(
    coverage: CoverageDep, metrics: MetricsDep, query: Annotated[CoverageQuery, Query()]
) -> Envelope[CoverageMap]:
    metrics.queue_requests.labels("coverage").inc()
    found = await coverage.map(query)
    days = sum(len(series.days) for series in found.series)
    return ok(f"Coverage of {len(found.series)} series over {days} days", found)


@router.post(
    "/fill",
    responses=documented(401, 422, 503),
    summary="Start history queues for every day that is not complete",
    description=(
        "The same filter as GET /coverage. One queue per contiguous range of days that are "
        "not complete, into the collection that already holds the range's records. Days a "
        "running history load is loading are left to it (listed as `running`), so the same "
        "request twice starts nothing new. `dry_run=true` only answers what it would start."
    ),
    dependencies=Protected,
)
async def fill_missing(
    coverage: CoverageDep,
    metrics: MetricsDep,
    query: Annotated[CoverageQuery, Query()],
    dry_run: Annotated[bool, Query(description="answer without starting anything")] = False,
) -> Envelope[FillAnswer]:
    metrics.queue_requests.labels("coverage_fill").inc()
    answer = await coverage.fill(query, dry_run)
    started = sum(1 for queue in answer.queues if queue.status != "running")
    verb = "would start" if dry_run else "started"
    return ok(f"Fill {verb} {started} queues", answer)
