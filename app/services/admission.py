"""Admission limits: how many jobs may run at once, in the whole service, per target and
per exchange's loaders (MAX_RUNNING_JOBS, TARGET_LIMITS, LOADER_LIMITS).

Slots are counted from the store's view of running jobs (starting, loading, stopping) at
every scheduling pass, never kept in a counter: every terminal state frees its slot,
also one reached across a crash and restart of the service.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from app.config import Settings
from app.models.catalog import Target
from app.models.queues import JobState, QueueState
from app.models.status import Status

RUNNING = frozenset({Status.STARTING, Status.LOADING, Status.STOPPING})
"""Jobs that hold a slot: launched and not ended."""
ALL = "all"


@dataclass(frozen=True)
class Limits:
    max_running: int | None = None
    targets: dict[str, int] = field(default_factory=dict)
    loaders: dict[str, int] = field(default_factory=dict)
    """By exchange: how many loader-producers of that exchange may run."""

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(settings.max_running_jobs, settings.target_limit_map, settings.loader_limit_map)

    def scopes(self) -> dict[str, int]:
        """Every configured limit by scope (the /metrics label): all, target:X, loaders:Y."""
        found = {f"target:{name}": limit for name, limit in self.targets.items()}
        found |= {f"loaders:{name}": limit for name, limit in self.loaders.items()}
        return {ALL: self.max_running, **found} if self.max_running is not None else found


def scopes_of(queue: QueueState, job: JobState) -> list[str]:
    """The scopes a job counts in, narrowest first."""
    scopes = [f"target:{job.target}", ALL]
    if job.target is Target.LOADER_PRODUCER:
        scopes.insert(0, f"loaders:{queue.exchange.value}")
    return scopes


class Slots:
    """Slots in use per scope, from a view of the queues; taken as jobs are admitted."""

    def __init__(self, limits: Limits, queues: Iterable[QueueState]) -> None:
        self._limits = limits.scopes()
        self.in_use: Counter[str] = Counter()
        for queue in queues:
            for job in queue.jobs:
                if job.status in RUNNING:
                    self.take(queue, job)

    @property
    def limits(self) -> dict[str, int]:
        return self._limits

    def refusal(self, queue: QueueState, job: JobState) -> str | None:
        """Why `job` may not start now (`waiting for a slot: 8 of 8 binance loaders
        running`), or None when every scope it counts in has room."""
        for scope in scopes_of(queue, job):
            limit = self._limits.get(scope)
            if limit is not None and self.in_use[scope] >= limit:
                return f"waiting for a slot: {self.in_use[scope]} of {limit} {_noun(scope)} running"
        return None

    def take(self, queue: QueueState, job: JobState) -> None:
        for scope in scopes_of(queue, job):
            self.in_use[scope] += 1


def _noun(scope: str) -> str:
    if scope == ALL:
        return "jobs"
    kind, name = scope.split(":", 1)
    return f"{name} jobs" if kind == "target" else f"{name} loaders"
