"""A small JobContext for loader tests: records collected in a list, progress remembered.

It implements the ports of app/workers/base.py; the Kafka sink is tested elsewhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from app.workers.base import JobEnv
from app.workers.gaps import GapSummary
from app.workers.weight_budget import budget_for


class CollectingSink:
    """RecordSink that keeps every batch; tests await conditions on what arrived."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.batches = 0
        self._changed = asyncio.Condition()

    async def send(self, records: Sequence[dict[str, Any]], key_field: str = "symbol") -> None:
        assert all(key_field in record for record in records)
        async with self._changed:
            self.records.extend(records)
            self.batches += 1
            self._changed.notify_all()

    async def flush(self) -> None:
        return None

    async def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool]) -> None:
        """Wait until the collected records satisfy `predicate` (callers bound the wait)."""
        async with self._changed:
            await self._changed.wait_for(lambda: predicate(self.records))


class LocalJobContext:
    def __init__(self, env: JobEnv, stop_after_records: int | None = None) -> None:
        self.env = env
        self.stop_after_records = stop_after_records
        self.stop_requested = asyncio.Event()
        self.sink = CollectingSink()
        self.progress_calls: list[tuple[int, str | None]] = []
        self.warnings: list[str] = []
        self.retries: list[tuple[str, int, str]] = []
        """(key, attempt, error) of every failed attempt reported, in order."""
        self.recoveries: list[str] = []
        self.failing: dict[str, int] = {}
        """What is being retried now (as the job's telemetry would show it)."""
        self.warned = asyncio.Event()
        self.gaps = GapSummary()
        """The job's gaps as its telemetry would carry them."""
        self.gaps_changed = asyncio.Event()
        self.stats: list[dict[str, Any]] = []
        """Every live-stats snapshot the job set, in order."""
        self.weight_budget = budget_for(env)

    def set_stats(self, stats: dict[str, Any]) -> None:
        self.stats.append(stats)

    def progress(self, records_written: int, last_loaded_timestamp: str | None = None) -> None:
        self.progress_calls.append((records_written, last_loaded_timestamp))
        if self.stop_after_records is not None and records_written >= self.stop_after_records:
            self.stop_requested.set()

    def retrying(
        self,
        key: str,
        attempt: int,
        error: str,
        wait_seconds: float,
        max_attempts: int | None = None,
    ) -> None:
        self.retries.append((key, attempt, error))
        self.failing[key] = attempt

    def recovered(self, key: str) -> None:
        self.recoveries.append(key)
        self.failing.pop(key, None)

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        self.warned.set()

    def report_gaps(self, summary: GapSummary) -> None:
        self.gaps = summary
        self.gaps_changed.set()


def job_env(job_type: str, symbols: str, **settings: Any) -> JobEnv:
    """A job environment as the launcher would set it, for one Binance loader job."""
    return JobEnv(
        queue_id="q-test",
        target="loader-producer",
        job_type=job_type,
        job_name=f"job-{job_type}",
        symbols=symbols,
        **settings,
    )
