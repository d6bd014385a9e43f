"""Kubernetes probes and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.api.auth import OpenByDefault
from app.api.deps import MetricsDep, Queues, State
from app.api.errors import documented, envelope
from app.errors import QueueManagerError
from app.models.envelope import Envelope, ErrorEnvelope, ok

router = APIRouter(tags=["health"])
_CLOSED = documented(401)
"""Only when OPEN_METRICS_AND_HEALTH=false puts these routes behind the token."""
_DOWN: dict[int | str, dict[str, Any]] = {
    **_CLOSED,
    503: {"model": ErrorEnvelope, "description": "not ready: data names what is down"},
}


@router.get(
    "/health/live", responses=_CLOSED, summary="The process answers", dependencies=OpenByDefault
)
async def live() -> Envelope[dict[str, str]]:
    return ok("alive", {})


@router.get(
    "/health/startup",
    responses=_DOWN,
    summary="Initialisation finished",
    dependencies=OpenByDefault,
)
async def startup(state: State) -> Envelope[dict[str, str]]:
    if not state.started:
        return envelope(503, "starting up")  # type: ignore[return-value]
    return ok("started", {})


@router.get(
    "/health/ready",
    responses=_DOWN,
    summary="Every dependency answers",
    dependencies=OpenByDefault,
)
async def ready(state: State) -> Envelope[dict[str, str]]:
    results = await state.health.run()
    failing = {name: reason for name, reason in results.items() if reason != "ok"}
    if failing:
        names = ", ".join(sorted(failing))
        return envelope(503, f"not ready: {names} unavailable", results)  # type: ignore[return-value]
    return ok("All systems operational", results)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses=_CLOSED,
    dependencies=OpenByDefault,
)
async def metrics(queues: Queues, metrics: MetricsDep) -> Response:
    try:
        counts = await queues.count_by_status()
    except QueueManagerError:
        counts = {}  # the store is down: serve the other metrics all the same
    for status, count in counts.items():
        metrics.queues.labels(status.value).set(count)
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
