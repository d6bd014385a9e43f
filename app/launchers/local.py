"""Local adapter of JobLauncher: each job is a subprocess of the registry's command.

Output (stdout and stderr together, like a pod log) goes to DATA_DIR/jobs/<queue>/<job>.log.
Exit code 0 ends the job finished; anything else ends it in error with the log's tail.
Children die with the service (PDEATHSIG) and are reaped by a supervised watcher task; a
launch record (<job>.pid) lets the next life of the service kill what might be left.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path

import structlog

from app.config import Settings
from app.errors import JobNotFound, LaunchFailed
from app.exit_codes import ExitCode
from app.launchers.base import JobOutcome, JobPhase, JobSpec, OutcomeHandler
from app.launchers.job_environment import job_environment, process_environment
from app.launchers.leftovers import kill_leftovers, record_launch
from app.launchers.processes import describe_exit, spawn, tail_lines, terminate
from app.launchers.targets import TargetSpec, not_runnable_locally

log = structlog.get_logger(__name__)
ERROR_TAIL_LINES = 20


@dataclass
class _RunningJob:
    spec: JobSpec
    process: asyncio.subprocess.Process
    watcher: asyncio.Task[None] | None = None


class LocalLauncher:
    owns_jobs = True
    """Jobs die with the service; on shutdown the service stops them first."""

    def __init__(self, registry: dict[str, TargetSpec], jobs_dir: Path, settings: Settings) -> None:
        self._registry = registry
        self._jobs_dir = jobs_dir
        self._settings = settings
        self._running: dict[str, _RunningJob] = {}
        self._on_outcome: OutcomeHandler | None = None

    async def start(self, on_outcome: OutcomeHandler) -> None:
        self._on_outcome = on_outcome

    async def close(self) -> None:
        """Stop whatever still runs (the service stopped its queues' jobs already)."""
        await self.stop("", list(self._running), self._settings.job_stop_grace_seconds)

    async def launch(self, spec: JobSpec) -> str:
        running = self._running.get(spec.name)
        if running is not None:
            return str(running.process.pid)
        argv = self._argv(spec.target)
        try:
            process = await spawn(argv, self._env(spec), self.log_path(spec.queue_id, spec.name))
        except OSError as error:
            raise LaunchFailed(f"cannot start {argv[0]}: {error}") from error
        record_launch(self.record_path(spec.queue_id, spec.name), process.pid)
        job = _RunningJob(spec, process)
        self._running[spec.name] = job
        job.watcher = asyncio.create_task(self._watch(job), name=f"job-watch-{spec.name}")
        log.info("job launched", queue_id=spec.queue_id, job=spec.name, pid=process.pid)
        return str(process.pid)

    async def stop(self, queue_id: str, names: list[str], grace_seconds: float) -> None:
        jobs = [self._running[name] for name in names if name in self._running]
        await asyncio.gather(*(terminate(job.process, grace_seconds) for job in jobs))
        await asyncio.gather(*(job.watcher for job in jobs if job.watcher), return_exceptions=True)

    async def reclaim(self, queue_id: str, names: list[str]) -> None:
        """Kill what a previous life of the service left running of these jobs (found by
        their launch records), so that a relaunch never makes a second copy."""
        for name in names:
            path = self.record_path(queue_id, name)
            if name not in self._running and path.exists():
                markers = (f"JOB_RUN_NAME={name}".encode(), f"JOB_NAME={name}".encode())
                await kill_leftovers(path, markers)

    async def observe(self, queue_id: str, names: list[str]) -> dict[str, JobPhase]:
        return {
            name: JobPhase.RUNNING if name in self._running else JobPhase.MISSING for name in names
        }

    async def logs(self, queue_id: str, name: str, tail: int) -> list[str]:
        path = self.log_path(queue_id, name)
        try:
            return await asyncio.to_thread(tail_lines, path, tail)
        except FileNotFoundError as error:
            raise JobNotFound(f"job {name} of queue {queue_id} has no log yet") from error

    async def ping(self) -> None:
        return None

    def log_path(self, queue_id: str, name: str) -> Path:
        return self._jobs_dir / queue_id / f"{name}.log"

    def record_path(self, queue_id: str, name: str) -> Path:
        """The launch record of a running job (app/launchers/leftovers.py)."""
        return self._jobs_dir / queue_id / f"{name}.pid"

    def cannot_run(self, target: str) -> str | None:
        return not_runnable_locally(target, self._registry.get(target))

    def _argv(self, target: str) -> list[str]:
        entry = self._registry.get(target)
        if entry is None or not entry.command:
            raise LaunchFailed(not_runnable_locally(target, entry))
        command = list(entry.command)
        return [sys.executable, *command[1:]] if command[0] == "python" else command

    def _env(self, spec: JobSpec) -> dict[str, str]:
        """The job environment contract, as a pod would get it (plus what a process needs)."""
        environment = job_environment(spec, self._registry.get(spec.target), self._settings)
        return process_environment(environment, self._settings)

    async def _watch(self, job: _RunningJob) -> None:
        """Wait for the process, then report how it ended (supervised: never raises)."""
        code = await job.process.wait()
        self._running.pop(job.spec.name, None)
        self.record_path(job.spec.queue_id, job.spec.name).unlink(missing_ok=True)
        outcome = self._outcome_of(job.spec, code)
        log.info("job ended", queue_id=job.spec.queue_id, job=job.spec.name, code=code)
        if self._on_outcome is not None:
            try:
                await self._on_outcome(outcome)
            except Exception:
                log.exception("job outcome not recorded", queue_id=job.spec.queue_id)

    def _outcome_of(self, spec: JobSpec, code: int) -> JobOutcome:
        if code == 0:
            return JobOutcome(spec.queue_id, spec.name, JobPhase.SUCCEEDED)
        tail = "\n".join(self._safe_tail(spec)) or None
        bad_config = code == ExitCode.BAD_CONFIG
        message = describe_exit(code)
        return JobOutcome(spec.queue_id, spec.name, JobPhase.FAILED, message, tail, bad_config)

    def _safe_tail(self, spec: JobSpec) -> list[str]:
        try:
            return tail_lines(self.log_path(spec.queue_id, spec.name), ERROR_TAIL_LINES)
        except OSError:
            return []
