"""Retry rules, pure: which policy a job follows, how long it waits before its next
attempt, which attempt runs under which name, and what the job says while it waits
(docs/architecture.md, "Retries")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from app import naming
from app.models.attempts import NO_RETRY, RetryPolicy
from app.models.catalog import Target, is_stream
from app.models.health import Health, HealthState, one_line
from app.models.queues import JobState, QueueState
from app.models.status import Status, can_retry


@dataclass(frozen=True)
class RetryRules:
    """Each target's default policy (the target registry); a request's `retry` wins."""

    defaults: Mapping[str, RetryPolicy] = field(default_factory=dict)

    def policy_of(self, job: JobState) -> RetryPolicy:
        given = job.request.get("retry")
        if given is not None:
            return RetryPolicy.model_validate(given)
        return self.defaults.get(job.target, NO_RETRY)


NO_RULES = RetryRules()
"""Nothing retries (pure tests of other rules)."""


def max_attempts(policy: RetryPolicy) -> int:
    return policy.limit + 1


def backoff_seconds(policy: RetryPolicy, failed_attempt: int) -> float:
    """The wait after attempt `failed_attempt` failed: backoff * factor^(n-1), capped."""
    exponent = max(failed_attempt, 1) - 1
    try:
        wait = policy.backoff_seconds * policy.factor**exponent
    except OverflowError:
        wait = policy.max_backoff_seconds
    return min(wait, policy.max_backoff_seconds)


def retry_due(queue: QueueState, job: JobState, policy: RetryPolicy) -> bool:
    """A failed running attempt is tried again unless the queue is being stopped, the
    attempts are used up or what it reads from ended for good (a bad configuration never
    gets here: see the callers)."""
    if queue.stop_requested or not can_retry(job.status) or source_gone(queue, job):
        return False
    return job.attempt < max_attempts(policy)


_GONE = frozenset({Status.ERROR, Status.STOPPED, Status.SKIPPED})


def source_gone(queue: QueueState, job: JobState) -> bool:
    """An upstream of the job (or, for a connector, the loader of its type, which it
    starts with) failed for good or was stopped: another attempt would fail the same way."""
    return any(
        source.status in _GONE
        for source in queue.jobs
        if source.name in job.depends_on or _feeds(source, job)
    )


def _feeds(source: JobState, job: JobState) -> bool:
    return (
        job.target is Target.ARANGO_CONNECTOR
        and source.target is Target.LOADER_PRODUCER
        and source.type == job.type
    )


def loads_again(queue: QueueState, job: JobState) -> bool:
    """A history load of several symbols does not resume (they share one timestamp): its
    next attempt loads, and counts, every record again (app/workers/binance/rest_history.py)."""
    history = job.target is Target.LOADER_PRODUCER and not is_stream(job.type)
    return history and len(queue.symbols) > 1


def is_due(job: JobState, now: datetime) -> bool:
    """A pending job whose retry wait (if any) is over."""
    return job.status is Status.PENDING and (job.not_before is None or job.not_before <= now)


def current_attempt(job: JobState) -> int:
    """The attempt that runs or ran last (1 for a job never started)."""
    return max(job.attempt, 1)


def next_attempt(job: JobState) -> int:
    """The attempt a launch runs: the next one for a pending job, else the current one."""
    return job.attempt + 1 if job.status is Status.PENDING else current_attempt(job)


def run_name(job: JobState) -> str:
    """The process or Kubernetes Job of the job's current attempt (logs, stops)."""
    return naming.attempt_name(job.name, current_attempt(job))


def launch_name(job: JobState) -> str:
    """The process or Kubernetes Job the job runs, or will run when it launches next."""
    return naming.attempt_name(job.name, next_attempt(job))


def waiting_sentence(job: JobState, policy: RetryPolicy, wait: float, error: str) -> str:
    """`retrying in 20 s (attempt 2 of 4): <error>`"""
    upcoming, bound = job.attempt + 1, max_attempts(policy)
    return f"retrying in {wait:.0f} s (attempt {upcoming} of {bound}): {one_line(error, 200)}"


def waiting_health(job: JobState, policy: RetryPolicy, error: str, at: datetime) -> Health:
    """Health `retrying` between two attempts: which one failed, why, when the next runs."""
    bound, line = max_attempts(policy), one_line(error)
    return Health(
        state=HealthState.RETRYING,
        reason=f"attempt {job.attempt} of {bound} failed: {line}",
        attempt=job.attempt,
        max_attempts=bound,
        last_error=line,
        retry_at=at,
    )
