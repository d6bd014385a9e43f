"""Pure changes to a QueueState: telemetry, launcher outcomes, stop requests.

Each function changes the queue in place and returns whether anything changed, so it can
run inside QueueStore.mutate (an atomic read-modify-write). Status legality comes from
app/models/status.py; after every change `refresh` re-derives the queue's own fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from app.models.catalog import Target
from app.models.gaps import INT64_MAX
from app.models.health import OK
from app.models.messages import Telemetry
from app.models.queues import JobState, QueueState, utcnow
from app.models.status import Status, can_transition, derive_queue_status, is_terminal
from app.models.weight import RestWeight
from app.services import health

MAX_ERROR_CHARS = 4000


def set_job_status(job: JobState, status: Status, error: str | None = None) -> bool:
    """Move a job to `status` when legal; terminal jobs never change again (and their
    health is ok: status and error_message say the rest)."""
    if status == job.status or not can_transition(job.status, status):
        return False
    now = utcnow()
    job.status = status
    if status in (Status.STARTING, Status.LOADING) and job.started_at is None:
        job.started_at = now
    if is_terminal(status):
        job.finished_at = job.finished_at or now
        job.health = OK
    if error:
        job.error_message = error[-MAX_ERROR_CHARS:]
    return True


def apply_telemetry(queue: QueueState, report: Telemetry, stall_after: float | None = None) -> bool:
    """Apply one telemetry report; duplicates, late reports (by seq) and reports for
    ended jobs change nothing. With `stall_after`, a report older than that (a backlog
    read after a restart) leaves the job stalled rather than ok."""
    job = queue.job(report.job)
    if job is None or report.seq <= job.seq:
        return False
    if is_terminal(job.status):
        return _late_final_counters(queue, job, report)
    job.seq = report.seq
    _copy_progress(job, report)
    status = _as_stopped_if_stopping(job, report.status)
    reason = queue.stop_reason if status is Status.STOPPED else None
    set_job_status(job, status, reason or report.error_message)
    if report.finished_at and is_terminal(job.status):
        job.finished_at = report.finished_at
    _note_health(job, report, stall_after)
    refresh(queue)
    return True


def _note_health(job: JobState, report: Telemetry, stall_after: float | None) -> None:
    now = utcnow()
    job.last_telemetry_at = _sent_at(report, now)
    if is_terminal(job.status):
        return
    job.health = health.retrying(report.retry) if report.retry else OK
    stalled = health.stall_of(job, now, stall_after) if stall_after else None
    if stalled is not None:
        job.health = stalled


def _sent_at(report: Telemetry, now: datetime) -> datetime:
    """When the job sent it (never in our future); when it arrived if it does not say."""
    sent = report.ts
    if sent is None:
        return now
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)
    return min(sent, now)


def mark_stalled(queue: QueueState, now: datetime, stall_after: float) -> bool:
    """The stall rule over a queue's jobs (the stall checker's change); True when a job's
    health changed."""
    changed = False
    for job in queue.jobs:
        stalled = health.stall_of(job, now, stall_after)
        if stalled is not None and stalled != job.health:
            job.health = stalled
            changed = True
    if changed:
        refresh(queue)
    return changed


def _late_final_counters(queue: QueueState, job: JobState, report: Telemetry) -> bool:
    """A job's final report read after the launcher saw it exit: its counters count, its
    status does not (the job's terminal status never changes)."""
    if not is_terminal(report.status):
        return False
    job.seq = report.seq
    _copy_progress(job, report)
    refresh(queue)
    return True


def _as_stopped_if_stopping(job: JobState, status: Status) -> Status:
    """A job asked to stop that then ends without failing has been stopped."""
    if job.status is Status.STOPPING and status is Status.FINISHED:
        return Status.STOPPED
    return status


def _copy_progress(job: JobState, report: Telemetry) -> None:
    if report.records_written is not None:
        job.records_written = max(job.records_written, report.records_written)
    if report.last_loaded_timestamp:
        job.last_loaded_timestamp = report.last_loaded_timestamp
    if report.error_message and report.status is Status.ERROR:
        job.error_message = report.error_message[-MAX_ERROR_CHARS:]
    if report.rest_weight is not None:
        job.rest_weight = RestWeight.of(report.rest_weight)
    _copy_gaps(job, report)


def _copy_gaps(job: JobState, report: Telemetry) -> None:
    """Counts only grow; the open count and the list are the job's latest word."""
    if report.gaps_detected is not None:
        job.gaps_detected = max(job.gaps_detected, report.gaps_detected)
    if report.records_backfilled is not None:
        job.records_backfilled = max(job.records_backfilled, report.records_backfilled)
    if report.gaps_open is not None:
        job.gaps_open = report.gaps_open
    if report.gaps is not None:
        job.gaps = list(report.gaps)


def mark_job(
    queue: QueueState,
    name: str,
    status: Status,
    error: str | None = None,
    log_tail: str | None = None,
) -> bool:
    """A launcher's word on a job (launched, exited, vanished). A job we were stopping
    counts as stopped however its process ended (the kill after the grace period too);
    its message is the stop's reason plus how it ended. Only a failed job gets the tail
    of its log."""
    job = queue.job(name)
    if job is None:
        return False
    if job.status is Status.STOPPING and is_terminal(status):
        status = Status.STOPPED
        error = "; ".join(part for part in (queue.stop_reason, error) if part) or None
    elif status is Status.ERROR and log_tail:
        error = f"{error}; last output:\n{log_tail}" if error else log_tail
    changed = set_job_status(job, status, error)
    return refresh(queue) or changed


def request_stop(queue: QueueState, reason: str | None = None) -> bool:
    """Mark the queue as stopping: pending jobs stop at once, running ones are asked to.
    `reason` (e.g. the service shutting down) becomes the stopped jobs' message."""
    if queue.stop_requested or is_terminal(queue.status):
        return False
    queue.stop_requested = True
    queue.stop_reason = reason
    for job in queue.jobs:
        next_status = Status.STOPPED if job.status is Status.PENDING else Status.STOPPING
        set_job_status(job, next_status, reason if next_status is Status.STOPPED else None)
    refresh(queue)
    return True


def refresh(queue: QueueState) -> bool:
    """Re-derive the queue's status and totals from its jobs; True when the status moved."""
    status = derive_queue_status((job.status for job in queue.jobs), queue.stop_requested)
    moved = status != queue.status
    queue.status = status
    queue.records_written = _records_of(queue.jobs)
    _total_gaps(queue)
    queue.last_loaded_timestamp = _latest(job.last_loaded_timestamp for job in queue.jobs)
    queue.error_message = _first_error(queue.jobs) or _stop_reason(queue, status)
    queue.health = health.queue_health(queue)
    queue.started_at = queue.started_at or _earliest(job.started_at for job in queue.jobs)
    if is_terminal(status):
        queue.finished_at = queue.finished_at or utcnow()
    queue.updated_at = utcnow()
    return moved


def _records_of(jobs: list[JobState]) -> int:
    """Records loaded: the loaders' total, or every job's when there is no loader (capped
    at int64, what the store and the wire format hold)."""
    loaders = [job.records_written for job in jobs if job.target is Target.LOADER_PRODUCER]
    total = sum(loaders) if loaders else sum(job.records_written for job in jobs)
    return min(total, INT64_MAX)


def _total_gaps(queue: QueueState) -> None:
    jobs = queue.jobs
    queue.gaps_detected = min(sum(job.gaps_detected for job in jobs), INT64_MAX)
    queue.gaps_open = min(sum(job.gaps_open for job in jobs), INT64_MAX)
    queue.records_backfilled = min(sum(job.records_backfilled for job in jobs), INT64_MAX)


def _latest(values: Iterable[str | None]) -> str | None:
    present = [value for value in values if value]
    return max(present) if present else None


def _earliest(values: Iterable[datetime | None]) -> datetime | None:
    present = [value for value in values if value is not None]
    return min(present) if present else None


def _stop_reason(queue: QueueState, status: Status) -> str | None:
    return queue.stop_reason if status in (Status.STOPPING, Status.STOPPED) else None


def _first_error(jobs: list[JobState]) -> str | None:
    failed = [job for job in jobs if job.status is Status.ERROR and job.error_message]
    return f"{failed[0].target} ({failed[0].type}): {failed[0].error_message}" if failed else None
