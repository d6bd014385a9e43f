"""A test JobContext and a list RecordSink, implementing app/workers/base.py protocols."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from app.workers.base import JobEnv, RecordSink
from app.workers.gaps import GapSummary
from app.workers.weight_budget import budget_for


class Changes:
    """Awaitable 'something changed' signal, so tests wait for states instead of sleeping."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_until(self, predicate: Callable[[], bool], seconds: float = 5.0) -> None:
        async with asyncio.timeout(seconds):
            while not predicate():
                await self._event.wait()


class ListSink:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.flushes = 0
        self.changes = Changes()

    async def send(self, records: Sequence[dict[str, Any]], key_field: str = "symbol") -> None:
        assert all(record[key_field] for record in records), "every record carries its key"
        self.records.extend(records)
        self.changes.notify()

    async def flush(self) -> None:
        self.flushes += 1

    def of(self, kind: str, symbol: str | None = None) -> list[dict[str, Any]]:
        return [
            r
            for r in self.records
            if r["kind"] == kind and (symbol is None or r["symbol"] == symbol)
        ]


class JobContextForTests:
    """What the runtime gives a job: env, stop event, sink, progress, warnings, stats."""

    def __init__(self, env: JobEnv) -> None:
        self.env = env
        self.stop_requested = asyncio.Event()
        self.collected = ListSink()
        self.sink: RecordSink = self.collected
        self.progress_calls: list[tuple[int, str | None]] = []
        self.warnings: list[str] = []
        self.retries: list[tuple[str, int, str]] = []
        """(key, attempt, error) of every failed attempt reported, in order."""
        self.recoveries: list[str] = []
        self.failing: dict[str, int] = {}
        """What is being retried now (as the job's telemetry would show it)."""
        self.stats: list[dict[str, Any]] = []
        self.gaps = GapSummary()
        """The job's gaps as its telemetry would carry them."""
        self.changes = Changes()
        self.weight_budget = budget_for(env)

    def progress(self, records_written: int, last_loaded_timestamp: str | None = None) -> None:
        self.progress_calls.append((records_written, last_loaded_timestamp))

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
        self.changes.notify()

    def recovered(self, key: str) -> None:
        self.recoveries.append(key)
        self.failing.pop(key, None)
        self.changes.notify()

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        self.changes.notify()

    def set_stats(self, stats: dict[str, Any]) -> None:
        self.stats.append(stats)
        self.changes.notify()

    def report_gaps(self, summary: GapSummary) -> None:
        self.gaps = summary
        self.changes.notify()


def moex_env(url: str, job_type: str, tickers: Sequence[str], **extra: str) -> JobEnv:
    fields: dict[str, Any] = {
        "queue_id": "q-moex",
        "target": "loader-producer",
        "job_type": job_type,
        "job_name": "q-moex-loader",
        "exchange": "moex",
        "symbols": ",".join(tickers),
        "moex_ws_url": url,
        "moex_domain": "DEMO",
        "moex_login": "guest",
        "moex_passcode": "guest",
        **extra,
    }
    return JobEnv(**fields)
