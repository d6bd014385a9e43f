"""REST routes of schedules: create, list, get, change, delete, run now."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from pydantic import BaseModel

from app.api.auth import Protected
from app.api.deps import Schedules
from app.api.errors import documented
from app.api.media import JsonBody
from app.models.envelope import Envelope, ok
from app.models.schedules import (
    TEMPLATE_EXAMPLE,
    RunView,
    ScheduleCreate,
    SchedulePatch,
    ScheduleView,
)

router = APIRouter(prefix="/schedules", tags=["schedules"])
EXAMPLE_ID = "3d4f1c9e-8b7a-4e2d-9c61-5a0b2e7f4d18"
ScheduleId = Annotated[str, Path(max_length=64, examples=[EXAMPLE_ID])]
_TEXT = {
    404: "unknown schedule",
    409: "the name is taken",
    422: "invalid cron, timezone or queue template (names the field), or a bad id or query",
    503: "the store (or, to run, the job platform) is down",
}


def _errors(*codes: int, **texts: str) -> dict[int | str, dict[str, Any]]:
    """The documented error answers of one route, in a schedule's words."""
    extra = {int(name.removeprefix("e")): text for name, text in texts.items()}
    return documented(*codes, texts={**_TEXT, **extra})


CREATE_EXAMPLES = {
    "nightly": {
        "summary": "yesterday's candles every night at 00:05 Berlin time",
        "value": {
            "name": "nightly-btc",
            "cron": "5 0 * * *",
            "timezone": "Europe/Berlin",
            "queue": TEMPLATE_EXAMPLE,
        },
    },
    "seconds": {
        "summary": "every 30 seconds (a sixth, first field for seconds)",
        "value": {
            "name": "every-30s",
            "cron": "*/30 * * * * *",
            "queue": {**TEMPLATE_EXAMPLE, "time_range": "today"},
            "concurrency": "forbid",
            "catch_up": "none",
        },
    },
}


class Deleted(BaseModel):
    id: str
    name: str


@router.post(
    "",
    status_code=201,
    responses=_errors(400, 401, 409, 413, 415, 422, 503),
    summary="Create a schedule",
    dependencies=[*Protected, JsonBody],
)
async def create_schedule(
    schedules: Schedules,
    body: Annotated[ScheduleCreate, Body(openapi_examples=CREATE_EXAMPLES)],
) -> Envelope[ScheduleView]:
    return ok("Schedule created", await schedules.create(body))


@router.get(
    "",
    responses=_errors(422, 503),
    summary="List schedules by name, with their last runs",
)
async def list_schedules(
    schedules: Schedules,
    enabled: Annotated[
        bool | None, Query(description="only enabled (true) or disabled (false) ones")
    ] = None,
) -> Envelope[list[ScheduleView]]:
    return ok("Schedules fetched", await schedules.list(enabled))


@router.get(
    "/{schedule_id}",
    responses=_errors(404, 422, 503),
    summary="One schedule: its next run and its last runs with their queues' statuses",
)
async def get_schedule(schedules: Schedules, schedule_id: ScheduleId) -> Envelope[ScheduleView]:
    return ok("Schedule", await schedules.get(schedule_id))


@router.patch(
    "/{schedule_id}",
    responses=_errors(400, 401, 404, 409, 413, 415, 422, 503),
    summary="Change a schedule (enable, disable, anything else)",
    dependencies=[*Protected, JsonBody],
)
async def patch_schedule(
    schedules: Schedules,
    schedule_id: ScheduleId,
    body: Annotated[
        SchedulePatch, Body(openapi_examples={"disable": {"value": {"enabled": False}}})
    ],
) -> Envelope[ScheduleView]:
    return ok("Schedule changed", await schedules.patch(schedule_id, body))


@router.delete(
    "/{schedule_id}",
    responses=_errors(401, 404, 422, 503),
    summary="Delete a schedule (the queues it made stay)",
    dependencies=Protected,
)
async def delete_schedule(schedules: Schedules, schedule_id: ScheduleId) -> Envelope[Deleted]:
    gone = await schedules.delete(schedule_id)
    return ok("Schedule deleted", Deleted(id=gone.id, name=gone.name))


@router.post(
    "/{schedule_id}/run",
    responses=_errors(
        401,
        404,
        409,
        422,
        503,
        e409="concurrency=forbid and a run is still active (the skip is recorded)",
        e422="the queue template cannot start now (the failed run is recorded)",
    ),
    summary="Run a schedule now",
    dependencies=Protected,
)
async def run_schedule(schedules: Schedules, schedule_id: ScheduleId) -> Envelope[RunView]:
    return ok("Schedule run started", await schedules.run_now(schedule_id))
