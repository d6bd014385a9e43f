"""The typed state the lifespan builds and the routes use."""

from __future__ import annotations

from dataclasses import dataclass

from app.aio import Supervisor
from app.config import Settings
from app.control.plane import ControlPlane
from app.coverage.service import CoverageService
from app.health import HealthChecks
from app.metrics import Metrics
from app.schedules.scheduler import Scheduler
from app.schedules.service import ScheduleService
from app.services.job_scheduler import JobScheduler
from app.services.queue_service import QueueService


@dataclass
class AppState:
    settings: Settings
    metrics: Metrics
    queues: QueueService
    health: HealthChecks
    plane: ControlPlane
    supervisor: Supervisor
    schedules: ScheduleService
    scheduler: Scheduler
    coverage: CoverageService
    jobs: JobScheduler
    started: bool = False
