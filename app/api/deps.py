"""Annotated dependency aliases: routes ask for what they use, the app state provides it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.metrics import Metrics
from app.services.queue_service import QueueService
from app.state import AppState


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.services
    return state


def _queues(request: Request) -> QueueService:
    return _state(request).queues


def _metrics(request: Request) -> Metrics:
    return _state(request).metrics


State = Annotated[AppState, Depends(_state)]
Queues = Annotated[QueueService, Depends(_queues)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]
