"""`admission`: the job scheduler under MAX_RUNNING_JOBS, beside the bare launcher.

1,000 queues of 7 independent trivial requests (3 loaders, 2 connectors, a graph-builder
and a gnn-trainer whose inputs come from outside the queue) are stored on SQLite, then the
job scheduler (the service's own QueueService, JobScheduler and LocalLauncher, no HTTP, no
Kafka) runs them under MAX_RUNNING_JOBS=20 until all 7,000 jobs finished. The baseline, in
the same run, starts the same 7,000 jobs with the bare LocalLauncher, 20 at a time (a
semaphore released as each job's process exits). Every job is `sh` writing its start and
end time to a file and sleeping 50 ms between, so the highest number running at once is
measured from the jobs themselves.

    .venv/bin/python -m bench admission [--json]
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from app.config import Settings
from app.launchers.base import JobOutcome
from app.launchers.local import LocalLauncher
from app.launchers.targets import TargetSpec
from app.logging import configure_logging
from app.metrics import Metrics
from app.models.queues import QueueCreate
from app.models.status import is_terminal
from app.services.admission import Limits
from app.services.changes import ChangeFeed, QueueChange
from app.services.job_scheduler import JobScheduler
from app.services.pipeline import new_queue
from app.services.queue_service import QueueService
from app.store.sqlite import SqliteQueueStore
from bench.report import Row
from tests.fixtures.timed_jobs import TARGETS, most_at_once, runs_of

QUEUES = 1000
LIMIT = 20
JOB_SECONDS = 0.05
TARGET_RATIO = 0.8
SCRIPT = (
    'echo "start $JOB_NAME $(date +%s.%N)" >> "$RUNS_LOG"; sleep {seconds}; '
    'echo "end $JOB_NAME $(date +%s.%N)" >> "$RUNS_LOG"'
)
BODY: dict[str, Any] = {
    "symbol": "BTCUSDT",
    "time_range": "2024-06-01:2024-06-30",
    "requests": [
        {"target": "loader-producer", "type": "api_candles_5m"},
        {"target": "loader-producer", "type": "api_trades"},
        {"target": "loader-producer", "type": "api_agg_trades"},
        {"target": "arango-connector", "type": "api_candles_5m"},
        {"target": "arango-connector", "type": "api_trades"},
        {
            "target": "graph-builder",
            "type": "gnn_graph",
            "collection_inputs": ["made_elsewhere"],
            "collection_output": "bench_graph",
        },
        {
            "target": "gnn-trainer",
            "type": "gnn_train",
            "graph_collection": "elsewhere_graph",
            "model_output": "bench_model",
        },
    ],
}


def registry(log: Path) -> dict[str, TargetSpec]:
    command = ["/bin/sh", "-c", SCRIPT.format(seconds=JOB_SECONDS)]
    return {name: TargetSpec(command=command, env={"RUNS_LOG": str(log)}) for name in TARGETS}


def settings_in(root: Path) -> Settings:
    return Settings(_env_file=None, data_dir=root / "var", log_level="WARNING")


async def bare_launcher(root: Path, queues: int) -> tuple[float, int]:
    """Jobs/s and the most running at once: the same jobs, 20 at a time, no scheduler."""
    log, settings = root / "bare.log", settings_in(root)
    launcher = LocalLauncher(registry(log), settings.jobs_dir, settings)
    service = _service(SqliteQueueStore(root / "unused.db"), launcher)
    slots = asyncio.Semaphore(LIMIT)

    async def ended(_: JobOutcome) -> None:
        slots.release()

    await launcher.start(ended)
    specs = [
        service.job_spec(queue, job)
        for queue in (_queue() for _ in range(queues))
        for job in queue.jobs
    ]
    started = time.perf_counter()
    for spec in specs:
        await slots.acquire()
        await launcher.launch(spec)
    for _ in range(LIMIT):
        await slots.acquire()
    elapsed = time.perf_counter() - started
    await launcher.close()
    return len(specs) / elapsed, most_at_once(runs_of(log))


async def scheduler(root: Path, queues: int) -> tuple[float, int]:
    """Jobs/s and the most running at once through the job scheduler."""
    log, settings = root / "scheduled.log", settings_in(root)
    launcher = LocalLauncher(registry(log), settings.jobs_dir, settings)
    store = SqliteQueueStore(root / "store.db")
    await store.open()
    service = _service(store, launcher)
    jobs = JobScheduler(service, Limits(max_running=LIMIT), service.metrics, period_seconds=5)
    jobs.attach()
    finished = _Ended(queues)
    service.feed.subscribe(finished.note)
    await launcher.start(service.on_outcome)
    for _ in range(queues):
        await store.create(_queue())
    started = time.perf_counter()
    jobs.ready.set()
    task = asyncio.create_task(jobs.run())
    try:
        await finished.all.wait()
        elapsed = time.perf_counter() - started
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await launcher.close()
        await store.close()
    return queues * len(BODY["requests"]) / elapsed, most_at_once(runs_of(log))


class _Ended:
    """Set `all` once every queue ended (from the change feed)."""

    def __init__(self, queues: int) -> None:
        self._left = queues
        self._seen: set[str] = set()
        self.all = asyncio.Event()

    async def note(self, change: QueueChange) -> None:
        queue = change.queue
        if is_terminal(queue.status) and queue.id not in self._seen:
            self._seen.add(queue.id)
            self._left -= 1
            if self._left == 0:
                self.all.set()


def _queue() -> Any:
    return new_queue(QueueCreate.model_validate(BODY), str(uuid.uuid4()))


def _service(store: SqliteQueueStore, launcher: LocalLauncher) -> QueueService:
    return QueueService(
        store=store,
        launcher=launcher,
        feed=ChangeFeed(),
        metrics=Metrics(),
        job_env={},
        stop_grace_seconds=1,
    )


async def measure(queues: int) -> list[Row]:
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory(prefix="bench-admission-") as tmp:
        root = Path(tmp)
        bare_rate, bare_most = await bare_launcher(root / "bare", queues)
        rate, most = await scheduler(root / "scheduled", queues)
    jobs = queues * len(BODY["requests"])
    return [
        Row(
            "admission",
            f"jobs started per second, {queues} queues x 7 under MAX_RUNNING_JOBS={LIMIT}",
            rate,
            "jobs/s",
            baseline=bare_rate,
            target=f">= {TARGET_RATIO} x bare launcher, 20 at a time",
            met=rate >= TARGET_RATIO * bare_rate,
        ),
        Row(
            "admission",
            f"most jobs running at once, of {jobs} (bare launcher: {bare_most})",
            most,
            "jobs",
            target=f"<= {LIMIT}",
            met=most <= LIMIT,
        ),
    ]


def run(seconds: float = 5.0, queues: int = QUEUES) -> list[Row]:
    """The rows of `python -m bench admission` (`seconds` is not used: the work is fixed)."""
    return asyncio.run(measure(queues))
