"""REST routes of seed 002: start, stop, list, get, plus a job's log tail."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Response
from pydantic import BaseModel, Field

from app.api.auth import Protected
from app.api.deps import MetricsDep, Queues, State
from app.log_text import readable
from app.models.envelope import Envelope, ErrorEnvelope, ok
from app.models.queues import HISTORICAL_EXAMPLE, QueueCreate, QueueState
from app.models.status import Status
from app.store.base import QueueFilter

router = APIRouter(prefix="/queues", tags=["queues"])
EXAMPLE_ID = "b927fa13-3b22-4d44-bc81-1f902a222eee"
QueueId = Annotated[str, Path(max_length=64, examples=[EXAMPLE_ID])]
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorEnvelope, "description": text}
    for code, text in {
        400: "the body is not parseable JSON",
        401: "missing or wrong bearer token",
        404: "unknown queue or job",
        409: "illegal transition",
        413: "request body over MAX_BODY_BYTES",
        422: "invalid input: names the field and the reason",
        503: "a dependency (store, broker, job platform) is down",
    }.items()
}


class QueueRef(BaseModel):
    queue_id: str
    status: Status


class JobLog(BaseModel):
    queue_id: str
    job: str
    target: str
    type: str
    format: Literal["json", "text"] = "json"
    lines: list[str]
    omitted: int = Field(default=0, description="routine lines left out of the text format")


# A text tail of N records reads this many times N raw lines: routine ones are left out.
TEXT_READ_FACTOR = 4
MAX_RAW_LINES = 20_000


START_EXAMPLES = {
    "basic": {
        "summary": "seed 002: default pipeline",
        "value": {"symbol": "BTCUSDT", "type": "api", "time_range": "2024-01-01:2024-01-03"},
    },
    "historical": {
        "summary": "history pipeline: candles into ArangoDB",
        "value": HISTORICAL_EXAMPLE,
    },
    "moex": {
        "summary": "MOEX candles stream for three tickers",
        "value": {
            "exchange": "moex",
            "symbols": ["SBER", "GAZP", "LKOH"],
            "type": "ws",
            "time_range": "2024-08-01:2024-08-01",
        },
    },
}


@router.post("/start", responses=_ERRORS, summary="Start a queue", dependencies=Protected)
async def start_queue(
    queues: Queues,
    metrics: MetricsDep,
    body: Annotated[QueueCreate, Body(openapi_examples=START_EXAMPLES)],
) -> Envelope[QueueRef]:
    metrics.queue_requests.labels("start").inc()
    queue = await queues.start(body)
    return ok("Queue started", QueueRef(queue_id=queue.id, status=queue.status))


@router.post(
    "/stop", responses=_ERRORS, summary="Stop a queue (idempotent)", dependencies=Protected
)
async def stop_queue(
    queues: Queues,
    metrics: MetricsDep,
    queue_id: Annotated[str, Query(max_length=64, examples=[EXAMPLE_ID])],
) -> Envelope[QueueRef]:
    metrics.queue_requests.labels("stop").inc()
    queue = await queues.stop(queue_id)
    message = "Queue stopped" if queue.status is Status.STOPPED else "Queue stopping"
    return ok(message, QueueRef(queue_id=queue.id, status=queue.status))


@router.get(
    "",
    responses=_ERRORS,
    summary="List queues, newest first",
    description="`data` is the page (seed 002); the header X-Total-Count gives the total.",
)
async def list_queues(
    state: State,
    response: Response,
    status: Status | None = None,
    symbol: Annotated[str | None, Query(max_length=24, examples=["BTCUSDT"])] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    state.metrics.queue_requests.labels("list").inc()
    page = await state.queues.page_json(QueueFilter(status, symbol, limit, offset))
    body = (
        b'{"status":"success","message":"Queues fetched","data":['
        + b",".join(page.documents)
        + b"]}"
    )
    return Response(body, media_type="application/json", headers={"X-Total-Count": str(page.total)})


@router.get(
    "/{queue_id}",
    responses=_ERRORS,
    summary="Get one queue with its jobs",
    response_model=Envelope[QueueState],
)
async def get_queue(state: State, queue_id: QueueId) -> Response:
    """The hot read: the stored JSON goes out as it is, without a parse and re-serialise."""
    state.metrics.queue_requests.labels("get").inc()
    document = await state.queues.get_json(queue_id)
    body = b'{"status":"success","message":"Queue status","data":' + document + b"}"
    return Response(body, media_type="application/json")


@router.get("/{queue_id}/logs", responses=_ERRORS, summary="Last lines of a job's log")
async def job_logs(
    queues: Queues,
    metrics: MetricsDep,
    queue_id: QueueId,
    job: Annotated[
        str | None,
        Query(
            max_length=128,
            description=(
                "job name, target, or target:type; default: the first failed job, else the first"
            ),
            examples=["loader-producer"],
        ),
    ] = None,
    tail: Annotated[int, Query(ge=1, le=5000, description="how many records")] = 100,
    format: Annotated[
        Literal["json", "text"],
        Query(
            description=(
                "json: the job's lines as written (one JSON object each); text: for people "
                "(time, level, message, key fields; a traceback on lines of its own)"
            )
        ),
    ] = "json",
    routine: Annotated[
        bool, Query(description="text format: keep routine lines (periodic telemetry)")
    ] = False,
) -> Envelope[JobLog]:
    metrics.queue_requests.labels("logs").inc()
    raw_tail = min(tail * TEXT_READ_FACTOR, MAX_RAW_LINES) if format == "text" else tail
    chosen, lines = await queues.logs(queue_id, job, raw_tail)
    about = {"queue_id": queue_id, "job": chosen.name, "target": chosen.target}
    if format == "json":
        return ok("Job log", JobLog(**about, type=chosen.type, lines=lines))
    text = readable(lines, routine=routine, tail=tail)
    log = JobLog(**about, type=chosen.type, format="text", lines=text.lines, omitted=text.omitted)
    return ok("Job log", log)
