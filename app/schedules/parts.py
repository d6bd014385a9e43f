"""The schedule parts wired together: store, runs, scheduler, service. main.py opens the
store, runs the scheduler as a long-lived task (its passes begin once `scheduler.ready` is
set, after recovery) and subscribes the event publisher."""

from __future__ import annotations

from dataclasses import dataclass

from app.config import Settings
from app.metrics import Metrics
from app.schedules.clock import Clock
from app.schedules.runs import Runs
from app.schedules.scheduler import Scheduler
from app.schedules.service import ScheduleService
from app.services.queue_service import QueueService
from app.store.base import ScheduleStore
from app.wiring import make_schedule_store


@dataclass(frozen=True)
class ScheduleParts:
    store: ScheduleStore
    runs: Runs
    scheduler: Scheduler
    service: ScheduleService


def schedule_parts(
    settings: Settings, queues: QueueService, metrics: Metrics, clock: Clock
) -> ScheduleParts:
    store = make_schedule_store(settings)
    runs = Runs(store, queues, clock, metrics)
    scheduler = Scheduler(store, runs, clock, settings.schedule_grace_seconds)
    service = ScheduleService(store, runs, queues, clock, wake=scheduler.wake.set)
    return ScheduleParts(store, runs, scheduler, service)
