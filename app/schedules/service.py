"""Schedules as a resource: create, list, get (with the next slot and the last runs and
their queues' statuses), change, delete, run now. Every change wakes the scheduler."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from app.errors import InvalidInput, QueueNotFound
from app.models.schedules import (
    RunOutcome,
    RunView,
    ScheduleCreate,
    SchedulePatch,
    ScheduleRun,
    ScheduleState,
    ScheduleView,
)
from app.schedules import cron
from app.schedules.clock import Clock
from app.schedules.planning import upcoming
from app.schedules.runs import Runs, template_for
from app.services.queue_service import QueueService
from app.store.base import ScheduleStore

LISTED_RUNS = 5
SHOWN_RUNS = 20
_RESTART_FIELDS = {"enabled", "cron", "timezone"}
"""Changing these starts counting slots from now: slots of the old cron, or of the time
the schedule was disabled, are not "missed"."""


class ScheduleService:
    def __init__(
        self,
        store: ScheduleStore,
        runs: Runs,
        queues: QueueService,
        clock: Clock,
        wake: Callable[[], None],
    ) -> None:
        self.store = store
        self._runs = runs
        self._queues = queues
        self._clock = clock
        self._wake = wake

    async def create(self, body: ScheduleCreate) -> ScheduleView:
        now = self._clock.now()
        fields = {name: getattr(body, name) for name in ScheduleCreate.model_fields}
        schedule = ScheduleState.model_validate(
            {**fields, "id": str(uuid.uuid4()), "cursor": now, "created_at": now, "updated_at": now}
        )
        self._check_runnable(schedule)
        await self.store.create(schedule)
        self._wake()
        return await self.view(schedule)

    async def list(self, enabled: bool | None = None) -> list[ScheduleView]:
        chosen = [s for s in await self.store.all() if enabled in (None, s.enabled)]
        return [await self.view(s, LISTED_RUNS) for s in chosen]

    async def get(self, schedule_id: str) -> ScheduleView:
        return await self.view(await self.store.get(schedule_id))

    async def patch(self, schedule_id: str, patch: SchedulePatch) -> ScheduleView:
        changes, now = patch.changes(), self._clock.now()
        moved = _RESTART_FIELDS & changes.keys()

        def change(schedule: ScheduleState) -> bool:
            restart = any(getattr(schedule, name) != changes[name] for name in moved)
            for name, value in changes.items():
                setattr(schedule, name, value)
            if "queue" in changes:
                self._check_runnable(schedule)
            if restart:
                schedule.cursor = max(schedule.cursor, now)
            schedule.updated_at = now
            return True

        schedule, _ = await self.store.mutate(schedule_id, change)
        self._wake()
        return await self.view(schedule)

    async def delete(self, schedule_id: str) -> ScheduleState:
        """The queues it made stay; a run being started finishes."""
        schedule = await self.store.get(schedule_id)
        await self.store.delete(schedule_id)
        self._wake()
        return schedule

    async def run_now(self, schedule_id: str) -> RunView:
        run = await self._runs.run_now(schedule_id)
        self._wake()
        return await self._run_view(run)

    async def view(self, schedule: ScheduleState, runs: int = SHOWN_RUNS) -> ScheduleView:
        """The schedule as REST shows it: next slot, runs newest first with statuses."""
        shown = [await self._run_view(run) for run in reversed(schedule.runs[-runs:])]
        return ScheduleView.model_validate(
            {
                **{name: getattr(schedule, name) for name in ScheduleState.model_fields},
                "runs": shown,
                "next_run_at": self.next_run(schedule),
                "cron_text": cron.explain(schedule.cron),
            }
        )

    def _check_runnable(self, schedule: ScheduleState) -> None:
        """A template whose targets cannot run here is refused now (422 naming
        `queue.requests[i].target`), not at each slot."""
        try:
            self._queues.check_runnable(template_for(schedule, self._clock.now()))
        except InvalidInput as error:
            problems = [{**p, "field": f"queue.{p['field']}"} for p in error.data or []]
            summary = "; ".join(f"{p['field']}: {p['reason']}" for p in problems)
            raise InvalidInput(f"invalid request: {summary}", data=problems) from error

    def next_run(self, schedule: ScheduleState) -> datetime | None:
        return upcoming(schedule, self._clock.now())

    async def _run_view(self, run: ScheduleRun) -> RunView:
        status = None
        if run.queue_id is not None and run.outcome is RunOutcome.TRIGGERED:
            try:
                status = (await self._queues.get(run.queue_id)).status
            except QueueNotFound:
                status = None
        return RunView.model_validate({**run.model_dump(), "status": status})
