"""The one place that owns status rules: statuses, allowed transitions, terminal states,
and the queue status derived from its jobs (design brief: "Queue statuses")."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Status(StrEnum):
    """Lifecycle of a job and of a queue (a queue's status is derived from its jobs)."""

    PENDING = "pending"
    STARTING = "starting"
    LOADING = "loading"
    STOPPING = "stopping"
    FINISHED = "finished"
    STOPPED = "stopped"
    ERROR = "error"
    SKIPPED = "skipped"
    """Never ran: an upstream job failed or was stopped (the reason says which)."""


TERMINAL: frozenset[Status] = frozenset(
    {Status.FINISHED, Status.STOPPED, Status.ERROR, Status.SKIPPED}
)

_ENDINGS = {Status.STOPPING, Status.FINISHED, Status.STOPPED, Status.ERROR}
ALLOWED: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.STARTING, Status.LOADING, Status.SKIPPED, *_ENDINGS}),
    Status.STARTING: frozenset({Status.LOADING, *_ENDINGS}),
    Status.LOADING: frozenset(_ENDINGS),
    Status.STOPPING: frozenset({Status.FINISHED, Status.STOPPED, Status.ERROR}),
    Status.FINISHED: frozenset(),
    Status.STOPPED: frozenset(),
    Status.ERROR: frozenset(),
    Status.SKIPPED: frozenset(),
}


RETRY_FROM: frozenset[Status] = frozenset({Status.STARTING, Status.LOADING})
"""A failed attempt of a running job may go back to `pending` to be tried again: the one
way back, taken only by the retry transition (app/services/transitions.py, retry_job),
never by an ordinary status change. A job being stopped is never retried."""


def can_retry(status: Status) -> bool:
    return status in RETRY_FROM


def is_terminal(status: Status) -> bool:
    return status in TERMINAL


def can_transition(current: Status, new: Status) -> bool:
    """True when `current -> new` is a legal change; staying put is not a transition."""
    return new in ALLOWED[current]


def derive_queue_status(job_statuses: Iterable[Status], stop_requested: bool) -> Status:
    """The queue's status from its jobs.

    All jobs ended: error if any failed, else stopped if any was stopped, else finished
    (a skipped job follows from a failed or stopped one, so it adds nothing).
    Otherwise a requested stop wins (stopping); then the most advanced running status.
    """
    statuses = list(job_statuses)
    if all(is_terminal(s) for s in statuses):
        return _settled_status(statuses)
    if stop_requested:
        return Status.STOPPING
    if Status.LOADING in statuses or Status.STOPPING in statuses:
        return Status.LOADING
    if Status.STARTING in statuses:
        return Status.STARTING
    return Status.LOADING if any(is_terminal(s) for s in statuses) else Status.PENDING


def _settled_status(statuses: list[Status]) -> Status:
    if Status.ERROR in statuses:
        return Status.ERROR
    if Status.STOPPED in statuses:
        return Status.STOPPED
    return Status.FINISHED


def stop_is_legal(current: Status) -> bool:
    """Stopping is legal unless the queue already ended by itself (finished or error)."""
    return current not in (Status.FINISHED, Status.ERROR)
