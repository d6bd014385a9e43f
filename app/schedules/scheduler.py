"""The scheduler: a long-lived task that wakes at the next slot of any schedule (or when a
schedule changes), runs the due slots and sleeps again, on an injected clock.

Every replica runs one; they need no leader: each slot is claimed in the store (see
runs.py), so whichever scheduler claims it first runs it and the others skip it. A pass
first finishes runs claimed but not carried out (their process died mid-slot), then plans
every enabled schedule's due slots (planning.py) and runs them oldest first.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

import structlog

from app.errors import DependencyUnavailable, QueueManagerError
from app.models.schedules import RunOutcome, ScheduleState
from app.schedules.clock import Clock
from app.schedules.planning import plan, upcoming
from app.schedules.runs import Runs
from app.store.base import ScheduleStore

log = structlog.get_logger(__name__)
SETTLE_AFTER = timedelta(seconds=10)
"""A claimed run not carried out for this long is finished by whichever scheduler sees it
(its own process died mid-slot); its derived queue id keeps that to one queue."""
RETRY_SECONDS = 2.0
STUCK_SECONDS = 60.0
"""A pass running longer than this (a hung store call) makes readiness fail."""


class Scheduler:
    def __init__(
        self, store: ScheduleStore, runs: Runs, clock: Clock, grace_seconds: float
    ) -> None:
        self._store = store
        self._runs = runs
        self._clock = clock
        self._grace = timedelta(seconds=grace_seconds)
        self.wake = asyncio.Event()
        """Set when a schedule changed here: the next pass starts at once."""
        self.ready = asyncio.Event()
        """Set by start-up once the stores are open and queue recovery is done (a queue whose
        process died with the last run of the service counts as ended by then)."""
        self.problem: str | None = None
        """Why the last pass failed, for readiness; None when it went through."""
        self.passes = 0
        self._pass_started: float | None = None

    async def run(self) -> None:
        """Pass, sleep until the next slot, forever (cancel to stop). A pass that fails in
        an unexpected way is logged with its traceback and shown in readiness; the loop
        goes on (the next pass retries)."""
        await self.ready.wait()
        while True:
            self.wake.clear()
            self._pass_started = time.monotonic()
            try:
                upcoming_slot = await self.run_once()
            except Exception as error:
                log.exception("scheduler pass crashed")
                self.problem = f"a pass crashed: {type(error).__name__}: {error}"
                upcoming_slot = self._retry_at()
            finally:
                self._pass_started = None
            await self._clock.sleep_until(upcoming_slot, self.wake)

    async def run_once(self) -> datetime | None:
        """One pass over every schedule; the earliest next slot (None: nothing ahead)."""
        try:
            schedules = await self._store.all()
        except QueueManagerError as error:
            return self._failed(error)
        problems = []
        for schedule in schedules:
            try:
                await self._tend(schedule)
            except QueueManagerError as error:
                log.warning("schedule pass failed", schedule=schedule.name, error=error.message)
                problems.append(f"{schedule.name}: {error.message}")
        self.problem = "; ".join(problems) or None
        self.passes += 1
        return self._next(schedules) if not problems else self._retry_at()

    async def check(self) -> None:
        """Readiness: raises while passes fail (the store or the job platform is down)."""
        if not self.ready.is_set():
            raise DependencyUnavailable("scheduler: waiting for the stores and recovery")
        if self.problem is not None:
            raise DependencyUnavailable(f"scheduler: {self.problem}")
        started = self._pass_started
        if started is not None and time.monotonic() - started > STUCK_SECONDS:
            took = time.monotonic() - started
            raise DependencyUnavailable(f"scheduler: a pass has been running for {took:.0f} s")

    async def _tend(self, schedule: ScheduleState) -> None:
        await self._finish_stranded(schedule)
        if not schedule.enabled:
            return
        due = plan(schedule, self._clock.now(), self._grace)
        if due.last_missed is not None:
            await self._runs.record_missed(schedule.id, due.last_missed, due.missed)
        for slot in due.run:
            await self._runs.run_slot(schedule.id, slot)

    async def _finish_stranded(self, schedule: ScheduleState) -> None:
        """Carry out runs claimed long enough ago that their scheduler must have died."""
        now = self._clock.now()
        for run in list(schedule.runs):
            if run.outcome is RunOutcome.CLAIMED and now - run.decided_at >= SETTLE_AFTER:
                log.info("finishing a run claimed before a crash", schedule=schedule.name)
                await self._runs.carry_out(schedule, run)

    def _next(self, schedules: list[ScheduleState]) -> datetime | None:
        now = self._clock.now()
        slots = [slot for s in schedules if (slot := upcoming(s, now)) is not None]
        stranded = [
            run.decided_at + SETTLE_AFTER
            for s in schedules
            for run in s.runs
            if run.outcome is RunOutcome.CLAIMED
        ]
        return min([*slots, *stranded], default=None)

    def _failed(self, error: QueueManagerError) -> datetime:
        log.warning("scheduler pass failed", error=error.message)
        self.problem = error.message
        return self._retry_at()

    def _retry_at(self) -> datetime:
        return self._clock.now() + timedelta(seconds=RETRY_SECONDS)
