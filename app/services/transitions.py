"""Pure changes to a QueueState: telemetry, launcher outcomes, stop requests.

Each function changes the queue in place and returns whether anything changed, so it can
run inside QueueStore.mutate (an atomic read-modify-write). Status legality comes from
app/models/status.py; after every change `refresh` re-derives the queue's own fields.

Attempts: a pending job that starts begins its next attempt (`attempts` gains an entry);
the entry follows the job's status and ends with it. A failed attempt with attempts left
goes back to `pending` through `retry_job` (app/services/retrying.py says when).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from app.models.attempts import Attempt, RetryPolicy
from app.models.catalog import Target
from app.models.gaps import INT64_MAX
from app.models.health import OK
from app.models.messages import Telemetry
from app.models.queues import JobState, QueueState, utcnow
from app.models.status import Status, can_transition, derive_queue_status, is_terminal
from app.models.weight import RestWeight
from app.services import health, retrying
from app.services.retrying import NO_RULES, RetryRules

MAX_ERROR_CHARS = 4000
RUNNING = (Status.STARTING, Status.LOADING)


def set_job_status(job: JobState, status: Status, error: str | None = None) -> bool:
    """Move a job to `status` when legal; terminal jobs never change again (and their
    health is ok: status and error_message say the rest)."""
    if status == job.status or not can_transition(job.status, status):
        return False
    now = utcnow()
    if job.status is Status.PENDING and status in RUNNING:
        begin_attempt(job, job.attempt + 1, now)
    job.status = status
    if status is not Status.PENDING:
        job.waiting_for = None
    if status in RUNNING and job.started_at is None:
        job.started_at = now
    if is_terminal(status):
        job.finished_at = job.finished_at or now
        job.health = OK
        job.waiting_for = job.not_before = None
    if error:
        job.error_message = error[-MAX_ERROR_CHARS:]
    _follow_attempt(job, now)
    return True


def begin_attempt(job: JobState, attempt: int, now: datetime) -> bool:
    """Attempt `attempt` started (its launch, or its first report when that came first);
    an attempt already begun is not begun again. The wait before it is over."""
    if attempt <= job.attempt:
        return False
    job.attempt = attempt
    job.attempts.append(Attempt(attempt=attempt, status=Status.STARTING, started_at=now))
    job.not_before = job.waiting_for = None
    if job.health.state is not OK.state:
        job.health = OK
    return True


def _open_attempt(job: JobState) -> Attempt | None:
    last = job.attempts[-1] if job.attempts else None
    if last is None or last.attempt != job.attempt or last.finished_at is not None:
        return None
    return last


def _follow_attempt(job: JobState, now: datetime) -> None:
    """The current attempt's entry takes the job's status, and ends when the job does."""
    current = _open_attempt(job)
    if current is None or job.status is Status.PENDING:
        return
    current.status = job.status
    if is_terminal(job.status):
        current.finished_at = now
        current.error_message = job.error_message if job.status is not Status.FINISHED else None


def retry_job(queue: QueueState, job: JobState, error: str, policy: RetryPolicy) -> bool:
    """The one way back from a failed attempt to `pending` (status.RETRY_FROM): the attempt
    ends in error, the job waits its backoff (`not_before`), says so (`waiting_for`,
    health retrying) and forgets the attempt's process (its reports, its reference)."""
    now = utcnow()
    current = _open_attempt(job)
    if current is not None:
        current.status, current.finished_at = Status.ERROR, now
        current.error_message = error[-MAX_ERROR_CHARS:]
    wait = retrying.backoff_seconds(policy, job.attempt)
    job.status = Status.PENDING
    job.not_before = now + timedelta(seconds=wait)
    job.waiting_for = retrying.waiting_sentence(job, policy, wait, error)
    job.health = retrying.waiting_health(job, policy, error, job.not_before)
    job.seq, job.launcher_ref, job.error_message = -1, None, None
    refresh(queue)
    return True


def fail_job(queue: QueueState, job: JobState, error: str, rules: RetryRules) -> bool:
    """A running attempt failed: retried when its policy allows, else the job fails."""
    policy = rules.policy_of(job)
    if retrying.retry_due(queue, job, policy):
        return retry_job(queue, job, error, policy)
    return set_job_status(job, Status.ERROR, error)


def apply_telemetry(
    queue: QueueState,
    report: Telemetry,
    stall_after: float | None = None,
    rules: RetryRules = NO_RULES,
) -> bool:
    """Apply one telemetry report; duplicates, late reports (by seq), reports of another
    attempt than the job's and reports for ended jobs change nothing. With `stall_after`,
    a report older than that (a backlog read after a restart) leaves the job stalled
    rather than ok. A failure report retries the job when `rules` allow."""
    job = queue.job(report.job)
    if job is None or report.seq <= job.seq or not _of_this_attempt(job, report):
        return False
    if is_terminal(job.status):
        return _late_final_counters(queue, job, report)
    job.seq = report.seq
    _copy_progress(job, report)
    status = _as_stopped_if_stopping(job, report.status)
    if status is Status.ERROR and job.status in RUNNING:
        fail_job(queue, job, report.error_message or "the job failed", rules)
        refresh(queue)
        return True
    reason = queue.stop_reason if status is Status.STOPPED else None
    set_job_status(job, status, reason or report.error_message)
    if report.finished_at and is_terminal(job.status):
        job.finished_at = report.finished_at
    _note_health(job, report, stall_after)
    refresh(queue)
    return True


def _of_this_attempt(job: JobState, report: Telemetry) -> bool:
    """Reports name their attempt (older jobs do not: they count as the current one)."""
    return report.attempt is None or report.attempt == retrying.next_attempt(job)


def _note_health(job: JobState, report: Telemetry, stall_after: float | None) -> None:
    now = utcnow()
    job.last_telemetry_at = _sent_at(report, now)
    if is_terminal(job.status) or job.status is Status.PENDING:
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
    *,
    retryable: bool = True,
    rules: RetryRules = NO_RULES,
) -> bool:
    """A launcher's word on a job's current attempt, by the attempt's process or Job name
    (launched, exited, vanished); the word on an attempt that already ended changes
    nothing. A job we were stopping counts as stopped however its process ended (the
    kill after the grace period too); its message is the stop's reason plus how it
    ended. Only a failed job gets the tail of its log; a `retryable` failure of a
    running job is retried when `rules` allow."""
    job = job_running_as(queue, name)
    if job is None:
        return False
    if status is Status.ERROR and retryable and job.status is Status.PENDING and not job.attempt:
        _begin_unrecorded(job)
    if job.status is Status.STOPPING and is_terminal(status):
        status = Status.STOPPED
        error = "; ".join(part for part in (queue.stop_reason, error) if part) or None
    elif status is Status.ERROR and log_tail:
        error = f"{error}; last output:\n{log_tail}" if error else log_tail
    if status is Status.ERROR and retryable and job.status in RUNNING:
        fail_job(queue, job, error or "the job failed", rules)
        refresh(queue)
        return True
    changed = set_job_status(job, status, error)
    return refresh(queue) or changed


def _begin_unrecorded(job: JobState) -> None:
    """The launcher speaks of the first attempt before its launch record was written (a
    process that failed at once): it ran, so it begins (as it starts), and a failure of it
    is retried."""
    set_job_status(job, Status.STARTING)


def job_running_as(queue: QueueState, name: str) -> JobState | None:
    """The job whose current attempt runs as `name`; None for an ended attempt's name (a
    job waiting to retry has no current attempt)."""
    for job in queue.jobs:
        if retrying.run_name(job) == name:
            waiting = job.status is Status.PENDING and job.attempt > 0
            return None if waiting else job
    return None


def launched(queue: QueueState, name: str, attempt: int, reference: str) -> bool:
    """The launcher started attempt `attempt` of job `name` (its telemetry may have come
    first: then the attempt has begun already)."""
    job = queue.job(name)
    if job is None or job.attempt > attempt:
        return False
    if job.attempt == attempt:  # begun by its report, or it even failed already
        if job.status is Status.PENDING or job.launcher_ref == reference:
            return False
        job.launcher_ref = reference
        return True
    job.launcher_ref = reference
    changed = set_job_status(job, Status.STARTING)
    return refresh(queue) or changed


def launch_failed(queue: QueueState, name: str, attempt: int, error: str) -> bool:
    """Attempt `attempt` of job `name` could not be launched: it is recorded as an
    attempt that failed, and the job fails (a launch is not retried)."""
    job = queue.job(name)
    if job is None or job.status is not Status.PENDING or job.attempt >= attempt:
        return False
    begin_attempt(job, attempt, utcnow())
    changed = set_job_status(job, Status.ERROR, error)
    return refresh(queue) or changed


def hold_jobs(queue: QueueState, skips: dict[str, str], waiting: dict[str, str]) -> bool:
    """A scheduling pass's word on pending jobs: skipped with a reason, or still waiting
    for what the sentence says. Jobs no longer pending (launched, stopped) are left alone."""
    changed = False
    for name, reason in skips.items():
        job = queue.job(name)
        if job is not None and job.status is Status.PENDING:
            changed |= set_job_status(job, Status.SKIPPED, reason)
            job.waiting_for = None
    for name, sentence in waiting.items():
        job = queue.job(name)
        if job is not None and job.status is Status.PENDING and job.waiting_for != sentence:
            job.waiting_for = sentence
            changed = True
    if changed:
        refresh(queue)
    return changed


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
