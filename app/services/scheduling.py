"""One scheduling pass, decided from a view of the active queues (pure: no I/O).

Queues are looked at first come, first served (created_at, then id), each queue's jobs
in dependency order. A pending job is skipped when an input never will be ready, waits
(with a sentence saying for what) while an input is not ready, its retry time has not
come or no slot is free, and is admitted otherwise: it takes its slots at once, so
later jobs of the same pass see them taken.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from app.models.dependencies import topological
from app.models.queues import JobState, QueueState
from app.models.status import Status
from app.services.admission import Limits, Slots
from app.services.readiness import Input, input_of, skip_reason, waiting_sentence

ADMISSION = "waiting for admission"
"""A new job's sentence until the scheduler's first look at it."""


@dataclass
class QueuePlan:
    queue: QueueState
    launch: list[str] = field(default_factory=list)
    skip: dict[str, str] = field(default_factory=dict)
    waiting: dict[str, str] = field(default_factory=dict)
    """New waiting_for sentences (only those that differ from the stored one)."""

    @property
    def writes(self) -> bool:
        return bool(self.skip or self.waiting)


@dataclass
class Plan:
    slots: Slots
    queues: list[QueuePlan] = field(default_factory=list)
    waiting: Counter[str] = field(default_factory=Counter)
    """Jobs left pending, by reason kind: input, slot, retry."""
    wake_at: datetime | None = None
    """The earliest retry time still to come."""


def plan(queues: list[QueueState], limits: Limits, now: datetime) -> Plan:
    result = Plan(Slots(limits, queues))
    for queue in sorted(queues, key=lambda q: (q.created_at, q.id)):
        if not queue.stop_requested and any(j.status is Status.PENDING for j in queue.jobs):
            result.queues.append(_plan_queue(queue, result, now))
    return result


def _plan_queue(queue: QueueState, result: Plan, now: datetime) -> QueuePlan:
    decided = QueuePlan(queue)
    statuses = {job.name: job.status for job in queue.jobs}
    for job in _in_dependency_order(queue):
        if statuses[job.name] is Status.PENDING:
            _decide(job, decided, statuses, result, now)
    return decided


def _decide(
    job: JobState, decided: QueuePlan, statuses: dict[str, Status], result: Plan, now: datetime
) -> None:
    producers = [p for name in job.depends_on if (p := decided.queue.job(name)) is not None]
    states = {p.name: input_of(p, statuses[p.name]) for p in producers}
    blocked = next((p for p in producers if states[p.name] is Input.BLOCKED), None)
    if blocked is not None:
        decided.skip[job.name] = skip_reason(blocked, statuses[blocked.name])
        statuses[job.name] = Status.SKIPPED
        return
    unready = [p for p in producers if states[p.name] is Input.WAITING]
    if unready:
        _wait(job, decided, result, "input", waiting_sentence(unready))
    elif job.not_before is not None and job.not_before > now:
        result.waiting["retry"] += 1  # its sentence is the retry's own
        result.wake_at = min(result.wake_at or job.not_before, job.not_before)
    elif (refusal := result.slots.refusal(decided.queue, job)) is not None:
        _wait(job, decided, result, "slot", refusal)
    else:
        result.slots.take(decided.queue, job)
        decided.launch.append(job.name)


def _wait(job: JobState, decided: QueuePlan, result: Plan, kind: str, sentence: str) -> None:
    result.waiting[kind] += 1
    if job.waiting_for != sentence:
        decided.waiting[job.name] = sentence


def _in_dependency_order(queue: QueueState) -> list[JobState]:
    index = {job.name: i for i, job in enumerate(queue.jobs)}
    edges = [[index[n] for n in job.depends_on if n in index] for job in queue.jobs]
    return [queue.jobs[i] for i in topological(edges)]
