"""The JobLauncher port: run one job per request, stop them, read their logs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True)
class JobSpec:
    """Everything a launcher needs to run one job; `env` is the job environment contract."""

    queue_id: str
    name: str
    target: str
    type: str
    env: dict[str, str] = field(default_factory=dict)
    bounded: bool = True
    """History loads end by themselves (a deadline applies); streams run until stopped."""


class JobPhase(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    MISSING = "missing"


@dataclass(frozen=True)
class JobOutcome:
    """What the platform says happened to a job: how it ended, or that it is gone.
    `log_tail` (the last lines of its output) is kept apart: only a failed job shows it.
    `name` is the attempt's process or Job name (app/naming.py, attempt_name)."""

    queue_id: str
    name: str
    phase: JobPhase
    message: str | None = None
    log_tail: str | None = None
    bad_config: bool = False
    """It exited with ExitCode.BAD_CONFIG: it cannot run as configured, so never retried."""


OutcomeHandler = Callable[[JobOutcome], Awaitable[None]]


class JobLauncher(Protocol):
    """Runs jobs. Launch is idempotent by job name: a second launch adopts the first job.
    Every adapter passes the same contract suite (tests/contract/test_launcher_contract.py)."""

    @property
    def owns_jobs(self) -> bool:
        """True when jobs die with the service (local processes): at shutdown the service
        stops them first, so their queues end `stopped`. False when the platform keeps them
        (Kubernetes): they run on and a restarted service finds them."""

    async def start(self, on_outcome: OutcomeHandler) -> None:
        """Begin watching jobs; every ended or vanished job is reported to `on_outcome`."""

    async def close(self) -> None:
        """Stop watching; the local launcher also stops every job it runs."""

    def cannot_run(self, target: str) -> str | None:
        """Why this launcher cannot run `target`, saying how to register it; None when it
        can. Checked before a queue is created, so nothing unrunnable is ever accepted."""

    async def launch(self, spec: JobSpec) -> str:
        """Start the job (or adopt the existing one); returns a reference (pid, uid)."""

    async def stop(self, queue_id: str, names: list[str], grace_seconds: float) -> None:
        """Ask the jobs to stop, wait up to the grace period, then kill them."""

    async def reclaim(self, queue_id: str, names: list[str]) -> None:
        """At start-up, before these jobs are settled or launched again: make sure none of
        them still runs outside our control (local: kill what a previous life of the
        service left running; Kubernetes: nothing, a Job is adopted by its name)."""

    async def observe(self, queue_id: str, names: list[str]) -> dict[str, JobPhase]:
        """The phase of each named job now (restart reconciliation)."""

    async def logs(self, queue_id: str, name: str, tail: int) -> list[str]:
        """The last `tail` lines of the job's output; raises JobNotFound."""

    async def ping(self) -> None:
        """Raises LauncherUnavailable when the platform cannot be reached."""
