"""One run of a schedule: decide (concurrency policy), claim (one revision-checked write),
carry out (start the slot's queue), record the outcome, announce it.

Exactly once per slot: the claim writes the run and moves the schedule's cursor past the
slot in one atomic read-modify-write; a second claimant (another replica, a restarted
process, a clock that jumped back) runs its change on the newer document, sees the cursor
past the slot and claims nothing. The queue id is derived from the slot, so carrying out a
claimed run again after a crash finds the queue it already made instead of making another.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from app.errors import IllegalTransition, InvalidInput, QueueNotFound, RunRefused
from app.metrics import Metrics
from app.models.queues import QueueCreate, QueueState, ScheduleRef
from app.models.schedules import Concurrency, RunOutcome, ScheduleRun, ScheduleState
from app.models.status import is_terminal
from app.schedules.clock import Clock
from app.schedules.events import ScheduleEvent, ScheduleEventKind, ScheduleListener
from app.schedules.ranges import resolve
from app.services.pipeline import new_queue
from app.services.queue_service import QueueService
from app.store.base import ScheduleStore

log = structlog.get_logger(__name__)
REMEMBERED_ENDED = 100_000
SCHEDULE_NAMESPACE = uuid.UUID("0b7d5c1e-3f0a-4c8e-9a51-7d2f6e4b9c13")
OUTCOME_EVENTS = {
    RunOutcome.TRIGGERED: ScheduleEventKind.TRIGGERED,
    RunOutcome.SKIPPED: ScheduleEventKind.SKIPPED,
    RunOutcome.FAILED: ScheduleEventKind.FAILED,
}


def slot_queue_id(schedule_id: str, slot: datetime, manual: bool = False) -> str:
    """The one queue id a slot can have."""
    kind = "manual" if manual else "slot"
    return str(uuid.uuid5(SCHEDULE_NAMESPACE, f"{schedule_id}/{kind}/{slot.isoformat()}"))


@dataclass(frozen=True)
class Decision:
    outcome: RunOutcome
    reason: str | None = None
    replaced: list[str] = field(default_factory=list)


class Runs:
    def __init__(
        self, store: ScheduleStore, queues: QueueService, clock: Clock, metrics: Metrics
    ) -> None:
        self._store = store
        self._queues = queues
        self._clock = clock
        self._metrics = metrics
        self.listeners: list[ScheduleListener] = []
        self._ended: set[str] = set()
        """Queue ids seen terminal (a terminal status never changes: no need to look again)."""

    async def run_slot(self, schedule_id: str, slot: datetime) -> ScheduleRun | None:
        """Decide and claim a cron slot, then carry it out; None when it was already
        decided (by another scheduler, or before a restart)."""
        schedule = await self._store.get(schedule_id)
        if slot <= schedule.cursor:
            return None
        run = self._new_run(schedule, slot, await self.decide(schedule), manual=False)
        stored, claimed = await self._store.mutate(schedule_id, _claim(run))
        return await self.carry_out(stored, run) if claimed else None

    async def run_now(self, schedule_id: str) -> ScheduleRun:
        """A manual run at the current time, under the same concurrency policy; RunRefused
        (409) when `forbid` skips it, InvalidInput (422) when its queue cannot start (the
        run is recorded all the same)."""
        schedule = await self._store.get(schedule_id)
        run = self._new_run(schedule, self._clock.now(), await self.decide(schedule), manual=True)
        stored, _ = await self._store.mutate(schedule_id, _appended(run))
        done = await self.carry_out(stored, run)
        if done.outcome is RunOutcome.SKIPPED:
            raise RunRefused(f"not run: {done.reason}", data=done.model_dump(mode="json"))
        if done.outcome is RunOutcome.FAILED:
            raise InvalidInput(f"not run: {done.reason}", data=done.model_dump(mode="json"))
        return done

    async def record_missed(self, schedule_id: str, last: datetime, count: int) -> None:
        """One skipped record for `count` slots up to `last` that catch-up does not run."""
        run = ScheduleRun(
            slot=last,
            outcome=RunOutcome.SKIPPED,
            missed=count,
            reason=f"{count} slot(s) missed while no scheduler ran (late beyond the grace)",
            decided_at=self._clock.now(),
        )
        stored, claimed = await self._store.mutate(schedule_id, _claim(run))
        if claimed:
            await self._announce(stored, run)

    async def decide(self, schedule: ScheduleState) -> Decision:
        """Run, skip (forbid) or run replacing (replace) what is still active."""
        if schedule.concurrency is Concurrency.ALLOW:
            return Decision(RunOutcome.CLAIMED)
        active = await self._active(schedule)
        if not active:
            return Decision(RunOutcome.CLAIMED)
        if schedule.concurrency is Concurrency.REPLACE:
            return Decision(RunOutcome.CLAIMED, replaced=[queue_id for queue_id, _ in active])
        queue_id, status = active[-1]
        return Decision(
            RunOutcome.SKIPPED,
            f"concurrency=forbid: the previous run's queue {queue_id} is still {status}",
        )

    async def carry_out(self, schedule: ScheduleState, run: ScheduleRun) -> ScheduleRun:
        """Start the run's queue (idempotent: its id is the slot's) and record how it went;
        also what finishes a run claimed before a crash."""
        if run.outcome is RunOutcome.SKIPPED:
            await self._announce(schedule, run)
            return run
        await self._stop_replaced(run.replaced)
        create = template_for(schedule, run.slot)
        try:
            queue = await self._queues.start_queue(create, self._queue_of(schedule, create, run))
        except InvalidInput as error:
            return await self._settle(schedule.id, run, RunOutcome.FAILED, error.message)
        return await self._settle(schedule.id, run, RunOutcome.TRIGGERED, None, queue)

    # --- internals ------------------------------------------------------------------------
    def _new_run(
        self, schedule: ScheduleState, slot: datetime, decision: Decision, manual: bool
    ) -> ScheduleRun:
        runs = decision.outcome is not RunOutcome.SKIPPED
        return ScheduleRun(
            slot=slot,
            queue_id=slot_queue_id(schedule.id, slot, manual) if runs else None,
            outcome=decision.outcome,
            reason=decision.reason,
            manual=manual,
            replaced=decision.replaced,
            decided_at=self._clock.now(),
        )

    async def _active(self, schedule: ScheduleState) -> list[tuple[str, str]]:
        """(queue id, status) of the runs still active, oldest first; a claimed run whose
        queue is not recorded yet counts as active (it is being started)."""
        active = []
        for run in schedule.runs:
            if run.queue_id is None or run.queue_id in self._ended:
                continue
            if run.outcome is RunOutcome.CLAIMED:
                active.append((run.queue_id, "being started"))
            elif run.outcome is RunOutcome.TRIGGERED:
                status = await self._status(run.queue_id)
                if status is not None:
                    active.append((run.queue_id, status))
        return active

    async def _status(self, queue_id: str) -> str | None:
        try:
            queue = await self._queues.get(queue_id)
        except QueueNotFound:
            self._remember_ended(queue_id)
            return None
        if is_terminal(queue.status):
            self._remember_ended(queue_id)
            return None
        return queue.status.value

    def _remember_ended(self, queue_id: str) -> None:
        if len(self._ended) >= REMEMBERED_ENDED:
            self._ended.clear()  # only a cache: the statuses are read again
        self._ended.add(queue_id)

    async def _stop_replaced(self, queue_ids: list[str]) -> None:
        for queue_id in queue_ids:
            try:
                await self._queues.stop(queue_id)
            except (IllegalTransition, QueueNotFound):
                continue  # it ended by itself meanwhile

    def _queue_of(
        self, schedule: ScheduleState, create: QueueCreate, run: ScheduleRun
    ) -> QueueState:
        assert run.queue_id is not None
        queue = new_queue(create, run.queue_id)
        queue.schedule = ScheduleRef(
            id=schedule.id, name=schedule.name, slot=run.slot, manual=run.manual
        )
        return queue

    async def _settle(
        self,
        schedule_id: str,
        run: ScheduleRun,
        outcome: RunOutcome,
        reason: str | None,
        queue: QueueState | None = None,
    ) -> ScheduleRun:
        started = self._clock.now() if queue is not None else None
        stored, changed = await self._store.mutate(
            schedule_id, _outcome(run, outcome, reason, started)
        )
        final = stored.run_of(run.slot, run.manual) or run
        if changed:
            await self._announce(stored, final)
        return final

    async def _announce(self, schedule: ScheduleState, run: ScheduleRun) -> None:
        """Metrics and listeners, once per decided run (the writer that decided it)."""
        outcome = "missed" if run.missed else run.outcome.value
        self._metrics.schedule_runs.labels(schedule.name, outcome).inc(run.missed or 1)
        if run.started_at is not None:
            lag = (run.started_at - run.slot).total_seconds()
            self._metrics.schedule_lag.labels(schedule.name).observe(max(0.0, lag))
        log.info(
            "schedule run",
            schedule=schedule.name,
            slot=run.slot.isoformat(),
            outcome=outcome,
            queue_id=run.queue_id,
            reason=run.reason,
        )
        event = ScheduleEvent(OUTCOME_EVENTS[run.outcome], schedule, run)
        for listener in self.listeners:
            try:
                await listener(event)
            except Exception:
                log.exception("schedule listener failed", schedule=schedule.name)


def template_for(schedule: ScheduleState, slot: datetime) -> QueueCreate:
    """The schedule's queue template with its time range resolved for `slot`."""
    template = schedule.queue.model_dump(mode="json", exclude_unset=True)
    template["time_range"] = resolve(schedule.queue.time_range, slot, schedule.timezone)
    return QueueCreate.model_validate(template)


Change = Callable[[ScheduleState], bool]


def _claim(run: ScheduleRun) -> Change:
    """Record a cron slot's run and move the cursor to it, only if the slot is still ahead
    of the cursor (else someone decided it: claim nothing)."""

    def change(schedule: ScheduleState) -> bool:
        if run.slot <= schedule.cursor:
            return False
        schedule.cursor = run.slot
        schedule.record(run.model_copy())
        return True

    return change


def _appended(run: ScheduleRun) -> Change:
    """Record a manual run (the cursor is the cron slots' only)."""

    def change(schedule: ScheduleState) -> bool:
        schedule.record(run.model_copy())
        return True

    return change


def _outcome(
    run: ScheduleRun, outcome: RunOutcome, reason: str | None, started: datetime | None
) -> Change:
    """Set a claimed run's outcome; a run already settled (by another scheduler finishing
    the same crashed claim) is left as it is."""

    def change(schedule: ScheduleState) -> bool:
        stored = schedule.run_of(run.slot, run.manual)
        if stored is None or stored.outcome is not RunOutcome.CLAIMED:
            return False
        stored.outcome, stored.reason, stored.started_at = outcome, reason, started
        return True

    return change
