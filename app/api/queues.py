"""REST routes of seed 002: start, stop, list, get, plus a job's log tail."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Path, Query, Response
from pydantic import BaseModel, Field
from starlette.convertors import StringConvertor, register_url_convertor

from app.api.auth import Protected
from app.api.deps import MetricsDep, Queues
from app.api.errors import documented
from app.api.media import JsonBody
from app.log_text import readable
from app.models.envelope import Envelope, ok
from app.models.examples import START_EXAMPLES
from app.models.queries import QueueFilter
from app.models.queues import QueueCreate, QueueState
from app.models.status import Status

router = APIRouter(prefix="/queues", tags=["queues"])
EXAMPLE_ID = "b927fa13-3b22-4d44-bc81-1f902a222eee"
QueueId = Annotated[str, Path(max_length=64, examples=[EXAMPLE_ID])]
COMMANDS = ("start", "stop")


class QueueIdConvertor(StringConvertor):
    """A path segment that is not one of the command routes beside `/queues/{queue_id}`:
    `GET /queues/start` is then 405 (start exists, for POST), not "no queue with id start"."""

    regex = f"(?!(?:{'|'.join(COMMANDS)})$)[^/]+"


register_url_convertor("queue_id", QueueIdConvertor())


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


@router.post(
    "/start",
    responses=documented(400, 401, 409, 413, 415, 422, 503),
    summary="Start a queue",
    dependencies=[*Protected, JsonBody],
)
async def start_queue(
    queues: Queues,
    metrics: MetricsDep,
    body: Annotated[QueueCreate, Body(openapi_examples=START_EXAMPLES)],
) -> Envelope[QueueRef]:
    metrics.queue_requests.labels("start").inc()
    queue = await queues.start(body)
    return ok("Queue started", QueueRef(queue_id=queue.id, status=queue.status))


@router.post(
    "/stop",
    responses=documented(401, 404, 409, 422, 503),
    summary="Stop a queue (idempotent)",
    dependencies=Protected,
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


TOTAL = {
    "X-Total-Count": {"description": "queues matching the filter", "schema": {"type": "integer"}}
}


@router.get(
    "",
    response_model=Envelope[list[QueueState]],
    responses={200: {"headers": TOTAL}, **documented(422, 503)},
    summary="List queues, newest first",
    description="`data` is the page (seed 002); the header X-Total-Count gives the total.",
)
async def list_queues(
    queues: Queues, metrics: MetricsDep, query: Annotated[QueueFilter, Query()]
) -> Response:
    """Stored JSON documents joined as they are, without a parse and re-serialise."""
    metrics.queue_requests.labels("list").inc()
    page = await queues.page_json(query)
    body = b'{"status":"success","message":"Queues fetched","data":[%s]}' % b",".join(
        page.documents
    )
    return Response(body, media_type="application/json", headers={"X-Total-Count": str(page.total)})


@router.get(
    "/{queue_id:queue_id}",
    response_model=Envelope[QueueState],
    responses=documented(404, 422, 503),
    summary="Get one queue with its jobs",
)
async def get_queue(queues: Queues, metrics: MetricsDep, queue_id: QueueId) -> Response:
    """The hot read: the stored JSON goes out as it is, without a parse and re-serialise."""
    metrics.queue_requests.labels("get").inc()
    document = await queues.get_json(queue_id)
    body = b'{"status":"success","message":"Queue status","data":' + document + b"}"
    return Response(body, media_type="application/json")


@router.get(
    "/{queue_id}/logs",
    responses=documented(404, 422, 503),
    summary="Last lines of a job's log",
)
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
