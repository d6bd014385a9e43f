"""Turn a stream of Job states into outcomes, each reported once per Job.

The same Job is seen many times (every MODIFIED event, every relist after 410 Gone, the
initial ADDED burst of a new watch), so the tracker remembers what it has reported per
(name, uid): a Job recreated under the same name is a new Job with its own outcome.
"""

from __future__ import annotations

from typing import Any

from app.launchers.base import JobOutcome, JobPhase
from app.launchers.k8s_status import identity, outcome_of, phase_of

Json = dict[str, Any]
DELETED_MESSAGE = "job deleted"


class OutcomeTracker:
    """Remembers the Jobs it has seen and the outcome already reported for each."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str], Json] = {}
        self._reported: set[tuple[str, str]] = set()

    def seen(self, job: Json) -> JobOutcome | None:
        """The outcome to report for this state of the Job, or None (running, or said)."""
        key = identity(job)
        self._known[key] = job
        phase, message = phase_of(job)
        if phase is JobPhase.RUNNING or key in self._reported:
            return None
        self._reported.add(key)
        return outcome_of(job, phase, message)

    def gone(self, job: Json) -> JobOutcome | None:
        """A deleted Job: its final outcome if never said, else MISSING unless it had ended."""
        outcome = self.seen(job)
        key = identity(job)
        already_said = key in self._reported and outcome is None
        self._known.pop(key, None)
        self._reported.discard(key)
        if outcome is not None or already_said:
            return outcome
        return outcome_of(job, JobPhase.MISSING, DELETED_MESSAGE)

    def relisted(self, jobs: list[Json]) -> list[JobOutcome]:
        """Outcomes after a fresh list: Jobs that vanished unseen, then the listed ones."""
        listed = {identity(job) for job in jobs}
        vanished = [job for key, job in list(self._known.items()) if key not in listed]
        outcomes = [self.gone(job) for job in vanished] + [self.seen(job) for job in jobs]
        return [outcome for outcome in outcomes if outcome is not None]
