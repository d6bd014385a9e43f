"""Annotated dependency aliases: routes ask for what they use, the app state provides it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.metrics import Metrics
from app.services.queue_service import QueueService
from app.state import AppState


async def _state(request: Request) -> AppState:
    """Dependencies are async: FastAPI runs sync ones in a thread, a hop per request."""
    return _app_state(request)


async def _queues(request: Request) -> QueueService:
    return _app_state(request).queues


async def _metrics(request: Request) -> Metrics:
    return _app_state(request).metrics


def _app_state(request: Request) -> AppState:
    state: AppState = request.app.state.services
    return state


State = Annotated[AppState, Depends(_state)]
Queues = Annotated[QueueService, Depends(_queues)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]
