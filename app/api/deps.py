"""Annotated dependency aliases: routes ask for what they use, the app state provides it.

Every alias takes an `HTTPConnection`, so HTTP routes and the WebSocket share them; this is
the one module that reads `app.state`. Dependencies are async: FastAPI runs sync ones in a
thread, a hop per request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from app.config import Settings
from app.control.hub import Hub
from app.coverage.service import CoverageService
from app.health import HealthChecks
from app.metrics import Metrics
from app.schedules.service import ScheduleService
from app.services.queue_service import QueueService
from app.state import AppState


def app_state(connection: HTTPConnection) -> AppState:
    state: AppState = connection.app.state.services
    return state


async def _state(connection: HTTPConnection) -> AppState:
    return app_state(connection)


async def _settings(connection: HTTPConnection) -> Settings:
    return app_state(connection).settings


async def _queues(connection: HTTPConnection) -> QueueService:
    return app_state(connection).queues


async def _schedules(connection: HTTPConnection) -> ScheduleService:
    return app_state(connection).schedules


async def _coverage(connection: HTTPConnection) -> CoverageService:
    return app_state(connection).coverage


async def _metrics(connection: HTTPConnection) -> Metrics:
    return app_state(connection).metrics


async def _health(connection: HTTPConnection) -> HealthChecks:
    return app_state(connection).health


async def _hub(connection: HTTPConnection) -> Hub:
    return app_state(connection).plane.hub


State = Annotated[AppState, Depends(_state)]
SettingsDep = Annotated[Settings, Depends(_settings)]
Queues = Annotated[QueueService, Depends(_queues)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]
Health = Annotated[HealthChecks, Depends(_health)]
HubDep = Annotated[Hub, Depends(_hub)]
Schedules = Annotated[ScheduleService, Depends(_schedules)]
CoverageDep = Annotated[CoverageService, Depends(_coverage)]
