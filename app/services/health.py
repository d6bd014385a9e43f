"""Health rules, pure: a job's health from its report and its silence, a queue's from its
jobs (docs/architecture.md, "Health")."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.models.health import OK, Health, HealthState, one_line
from app.models.messages import RetryReport
from app.models.queues import JobState, QueueState
from app.models.status import Status, is_terminal

WATCHED = (Status.STARTING, Status.LOADING)
"""Statuses in which a job is expected to report; only these can stall."""


def retrying(retry: RetryReport) -> Health:
    """A job's own word that it retries."""
    bound = f" of {retry.max_attempts}" if retry.max_attempts else ""
    error = one_line(retry.last_error)
    return Health(
        state=HealthState.RETRYING,
        reason=f"attempt {retry.attempt}{bound} failed: {error}",
        attempt=retry.attempt,
        max_attempts=retry.max_attempts,
        last_error=error,
        retry_at=retry.retry_at,
    )


def last_heard(job: JobState) -> datetime | None:
    """The last telemetry, or the launch when the job never reported."""
    return job.last_telemetry_at or job.started_at


def stall_of(job: JobState, now: datetime, stall_after: float) -> Health | None:
    """`stalled` when a starting or loading job has been silent `stall_after` seconds.
    The silence shown is a whole multiple of `stall_after`, so the reason (and the events
    announcing it) change once per period, not on every check."""
    since = last_heard(job)
    if job.status not in WATCHED or since is None:
        return None
    silent = (now - since).total_seconds()
    if silent < stall_after:
        return None
    shown = silent // stall_after * stall_after
    return Health(state=HealthState.STALLED, reason=f"no telemetry for {shown:.0f} s", since=since)


def stale(at: datetime, now: datetime, stall_after: float) -> bool:
    return now - at >= timedelta(seconds=stall_after)


def queue_health(queue: QueueState) -> Health:
    """`degraded` while a job failed and others still run; else the worst running job's."""
    if is_terminal(queue.status):
        return OK
    running = [job for job in queue.jobs if not is_terminal(job.status)]
    failed = next((job for job in queue.jobs if job.status is Status.ERROR), None)
    if failed is not None and running:
        error = one_line(failed.error_message or "no message")
        reason = f"{failed.target} ({failed.type}) failed: {error}"
        return Health(state=HealthState.DEGRADED, reason=reason, job=failed.name)
    worst = max(running, key=lambda job: job.health.severity, default=None)
    if worst is None or worst.health.state is HealthState.OK:
        return OK
    reason = f"{worst.target} ({worst.type}): {worst.health.reason}"
    return worst.health.model_copy(update={"job": worst.name, "reason": reason})
