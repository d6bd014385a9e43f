"""create_app() and the lifespan that starts and stops every resource in order."""

from __future__ import annotations

import gc
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import structlog
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from app import __version__
from app.aio import Backoff, Supervisor
from app.api import coverage as coverage_api
from app.api import dashboard, health, queues, schedules, ws
from app.api.errors import install_error_handlers
from app.api.middleware import BodyLimitMiddleware, MetricsMiddleware
from app.config import Settings
from app.control.plane import BROKER_CONNECT, CONNECT_BACKOFF, ControlPlane, start_broker
from app.coverage.counting import CoverageCount
from app.coverage.service import CoverageService
from app.health import HealthChecks
from app.launchers.base import JobLauncher
from app.launchers.job_environment import service_values
from app.launchers.targets import load_registry, retry_defaults
from app.metrics import Metrics
from app.schedules.clock import Clock, SystemClock
from app.schedules.parts import ScheduleParts, schedule_parts
from app.services.admission import Limits
from app.services.changes import ChangeFeed
from app.services.job_scheduler import JobScheduler
from app.services.queue_service import QueueService
from app.services.retrying import RetryRules
from app.services.weight_shares import WeightShares
from app.state import AppState
from app.store.base import QueueStore
from app.wiring import make_coverage_store, make_launcher, make_store

log = structlog.get_logger(__name__)
GC_YOUNG_THRESHOLD = 10_000
STORE_CONNECT = "store-connect"
START_WAIT = 5.0
"""How long start-up waits for the store and Kafka before it serves without them."""
SETTLE_SECONDS = 2.0
"""At shutdown, how long the jobs' final telemetry and the last events may take."""
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
    app.include_router(coverage_api.router)
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
    """The store and Kafka are reached by supervised tasks that retry until they answer:
    start-up waits for them a few seconds, then serves anyway, so a dependency that is down
    makes the service unready (503, naming it), never a crash loop."""
    async with AsyncExitStack() as stack:
        state = await _build_state(stack, settings, metrics, clock)
        app.state.services = state
        missing = await state.supervisor.wait_done([STORE_CONNECT, BROKER_CONNECT], START_WAIT)
        if missing:
            log.warning("serving before every dependency answers", still_connecting=missing)
        tune_garbage_collector()
        state.started = True
        log.info("queue-manager started", host=settings.host, port=settings.port)
        yield
        log.info("queue-manager stopping")
    log.info("queue-manager stopped")


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
    settings = await start_broker(stack, settings)  # the embedded broker stops last
    supervisor = Supervisor(
        lambda task: metrics.task_restarts.labels(task).inc(),
        healthy_after=settings.task_healthy_seconds,
    )
    store = make_store(settings)
    stack.push_async_callback(store.close)
    launcher = make_launcher(settings, supervisor)
    service = QueueService(
        store=store,
        launcher=launcher,
        feed=ChangeFeed(),
        metrics=metrics,
        job_env=service_values(settings),
        stop_grace_seconds=settings.job_stop_grace_seconds,
        stall_after_seconds=settings.stall_after,
        retry_rules=RetryRules(retry_defaults(load_registry(settings.targets_file))),
    )
    jobs = JobScheduler(
        service,
        Limits.of(settings),
        metrics,
        settings.scheduling_period_seconds,
        holder=f"{socket.gethostname()}:{settings.data_dir.resolve()}",
    )
    jobs.attach()
    shares = WeightShares.for_service(settings, store, metrics)
    shares.attach(service)
    plane = ControlPlane(settings, metrics, supervisor, service)
    shares.send = plane.publisher.on_share
    schedules = schedule_parts(settings, service, metrics, clock)
    stack.push_async_callback(schedules.store.close)
    schedules.runs.listeners.append(plane.publisher.on_schedule)
    coverage = CoverageService(make_coverage_store(settings), service, metrics)
    stack.push_async_callback(coverage.store.close)
    plane.dispatcher.coverage = coverage.apply
    coverage.listeners.append(plane.publisher.on_coverage)
    _shutdown_in_order(stack, supervisor, service, launcher, plane)
    await launcher.start(service.on_outcome)
    plane.start()
    supervisor.spawn(
        STORE_CONNECT,
        lambda: _open_and_recover(store, schedules, coverage, service, jobs),
        backoff=Backoff(*CONNECT_BACKOFF),
        until_done=True,
    )
    supervisor.spawn("scheduler", schedules.scheduler.run)  # passes begin once recovered
    supervisor.spawn("job-scheduler", jobs.run)  # passes begin once recovered
    supervisor.spawn("weight-shares", shares.run)
    supervisor.spawn("coverage-count", CoverageCount(coverage).run)
    checks = _checks(settings, store, plane, launcher, supervisor)
    checks.add("scheduler", schedules.scheduler.check)
    return AppState(
        settings=settings,
        metrics=metrics,
        queues=service,
        health=checks,
        plane=plane,
        supervisor=supervisor,
        schedules=schedules.service,
        scheduler=schedules.scheduler,
        coverage=coverage,
        jobs=jobs,
    )


def _shutdown_in_order(
    stack: AsyncExitStack,
    supervisor: Supervisor,
    service: QueueService,
    launcher: JobLauncher,
    plane: ControlPlane,
) -> None:
    """Run in reverse of pushing: stop connecting; stop our jobs (grace, then kill) so their
    queues end `stopped`; let the dispatcher apply their final telemetry and the outbox
    send the events; stop every task; close the producer; then (pushed earlier) the store
    and, last of all, the embedded broker."""
    stack.push_async_callback(plane.close)
    stack.push_async_callback(supervisor.close)
    stack.push_async_callback(plane.settle, SETTLE_SECONDS)
    stack.push_async_callback(launcher.close)
    stack.push_async_callback(service.shutdown)
    stack.push_async_callback(supervisor.cancel, STORE_CONNECT)
    stack.push_async_callback(supervisor.cancel, BROKER_CONNECT)


async def _open_and_recover(
    store: QueueStore,
    schedules: ScheduleParts,
    coverage: CoverageService,
    service: QueueService,
    jobs: JobScheduler,
) -> None:
    """What start-up does with the stores, once they answer: schema (the queue store's,
    then those beside it: schedules, coverage), then recovery; then the schedules' and
    the job scheduler's passes may begin."""
    await store.open()
    await schedules.store.open()
    await coverage.open()
    await service.recover()
    schedules.scheduler.ready.set()
    jobs.ready.set()
    log.info("stores open, recovery done")


def _checks(
    settings: Settings,
    store: QueueStore,
    plane: ControlPlane,
    launcher: JobLauncher,
    supervisor: Supervisor,
) -> HealthChecks:
    checks = HealthChecks(settings.health_timeout_seconds)
    checks.add("store", store.ping)
    checks.add("broker", plane.ping)
    checks.add("dispatcher", plane.dispatcher.check)
    checks.add("jobs", launcher.ping)
    checks.add_source("task:", supervisor.statuses)
    return checks
