"""create_app() and the lifespan that starts and stops every resource in order."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import structlog
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from app import __version__
from app.api import dashboard, health, queues, schedules, ws
from app.api.errors import install_error_handlers
from app.api.middleware import BodyLimitMiddleware, MetricsMiddleware
from app.config import Settings
from app.control.plane import ControlPlane, start_broker
from app.health import HealthChecks
from app.launchers.job_environment import service_values
from app.metrics import Metrics
from app.schedules.clock import Clock, SystemClock
from app.schedules.parts import schedule_parts
from app.services.changes import ChangeFeed
from app.services.queue_service import QueueService
from app.services.tasks import TaskGroup
from app.state import AppState
from app.wiring import make_launcher, make_store

log = structlog.get_logger(__name__)
GC_YOUNG_THRESHOLD = 10_000
DESCRIPTION = """Control plane for market-data pipelines: start a queue (a pipeline run of
loader, connector and ML jobs), follow it, stop it. Every answer is the envelope
`{status, message, data}`, errors included."""


def create_app(
    settings: Settings | None = None, metrics: Metrics | None = None, clock: Clock | None = None
) -> FastAPI:
    """The app; `clock` drives the scheduler (tests pass one they control)."""
    settings = settings or Settings()
    metrics = metrics or Metrics()
    app = FastAPIOffline(  # Swagger UI's files from the package: no CDN, works offline
        title="StreamForge queue-manager",
        version=__version__,
        description=DESCRIPTION,
        redirect_slashes=False,  # api/errors.py redirects, to a relative URL
        lifespan=lambda app: _lifespan(app, settings, metrics, clock or SystemClock()),
    )
    install_error_handlers(app)
    app.include_router(queues.router)
    app.include_router(schedules.router)
    app.include_router(health.router)
    app.include_router(ws.router)
    app.include_router(dashboard.router)
    app.mount("/static", dashboard.static_files(), name="static")
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


@asynccontextmanager
async def _lifespan(
    app: FastAPI, settings: Settings, metrics: Metrics, clock: Clock
) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        state = await _build_state(stack, settings, metrics, clock)
        app.state.services = state
        await state.queues.recover()
        state.scheduler.ready.set()
        tune_garbage_collector()
        state.started = True
        log.info("queue-manager started", host=settings.host, port=settings.port)
        yield
        log.info("queue-manager stopping")


def tune_garbage_collector() -> None:
    """Telemetry bursts allocate many short-lived objects; with the default thresholds the
    collector rescans everything built at start-up again and again (a third of the
    dispatcher's time in a profile). Freeze what start-up built, collect young objects less
    often."""
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


async def _build_state(
    stack: AsyncExitStack, settings: Settings, metrics: Metrics, clock: Clock
) -> AppState:
    settings = await start_broker(stack, settings)
    store = make_store(settings)
    await store.open()
    stack.push_async_callback(store.close)
    launcher = make_launcher(settings)
    feed = ChangeFeed()
    service = QueueService(
        store=store,
        launcher=launcher,
        feed=feed,
        metrics=metrics,
        job_env=service_values(settings),
        stop_grace_seconds=settings.job_stop_grace_seconds,
        stall_after_seconds=settings.stall_after,
    )
    plane = ControlPlane(settings, metrics)
    await plane.start(service)
    stack.push_async_callback(plane.stop)
    await launcher.start(service.on_outcome)
    stack.push_async_callback(launcher.close)
    stack.push_async_callback(service.shutdown)
    schedules = schedule_parts(settings, service, metrics, clock)
    await schedules.store.open()
    stack.push_async_callback(schedules.store.close)
    schedules.runs.listeners.append(plane.publisher.on_schedule)
    background = TaskGroup("schedules")
    background.spawn(schedules.scheduler.run(), "scheduler")
    stack.push_async_callback(background.close)
    checks = HealthChecks(settings.health_timeout_seconds)
    checks.add("store", store.ping)
    checks.add("broker", plane.ping)
    checks.add("dispatcher", plane.dispatcher.check if plane.dispatcher else plane.ping)
    checks.add("jobs", launcher.ping)
    checks.add("scheduler", schedules.scheduler.check)
    return AppState(
        settings=settings,
        metrics=metrics,
        queues=service,
        health=checks,
        plane=plane,
        schedules=schedules.service,
        scheduler=schedules.scheduler,
    )
