"""A job's telemetry: progress state, monotonic `seq`, periodic reports on queue-control."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from typing import Any

import structlog

from app.bus import Bus
from app.errors import QueueManagerError
from app.models.messages import Telemetry
from app.models.queues import utcnow
from app.models.status import Status, is_terminal
from app.workers.base import JobEnv
from app.workers.gaps import GapSummary
from app.workers.health import RetryBoard
from app.workers.weight_budget import budget_for

log = structlog.get_logger("app.workers.telemetry")
MAX_WARNINGS = 10
TELEMETRY = "telemetry to Kafka"


class TelemetryReporter:
    """Holds what the job reported and publishes it, keyed by queue_id so order is kept."""

    def __init__(self, bus: Bus, env: JobEnv) -> None:
        self.bus = bus
        self.env = env
        self.records_written = 0
        self.last_loaded_timestamp: str | None = None
        self.stats: dict[str, Any] | None = None
        self.warnings: deque[str] = deque(maxlen=MAX_WARNINGS)
        self.retries = RetryBoard()
        self.gaps: GapSummary | None = None
        """Stream jobs only: their gaps as last reported by their GapBook."""
        self.weight_budget = budget_for(env)
        self.wake = asyncio.Event()
        self._seq = itertools.count()

    def progress(self, records_written: int, last_loaded_timestamp: str | None = None) -> None:
        self.records_written = records_written
        if last_loaded_timestamp is not None:
            self.last_loaded_timestamp = last_loaded_timestamp

    def warn(self, message: str) -> None:
        """Keep the last warnings in stats and report them now rather than next interval."""
        log.warning("job warning", message=message)
        self.warnings.append(message)
        self.wake.set()

    def set_stats(self, stats: dict[str, Any]) -> None:
        self.stats = stats

    def retrying(
        self,
        key: str,
        attempt: int,
        error: str,
        wait_seconds: float,
        max_attempts: int | None = None,
    ) -> None:
        """A failed attempt: reported now (health `retrying`), not at the next interval.
        (The retry loop itself logs it: app/retries.py.)"""
        log.debug("retry reported", what=key, attempt=attempt, error=error[:500])
        self.retries.retrying(key, attempt, error, wait_seconds, max_attempts)
        self.wake.set()

    def recovered(self, key: str) -> None:
        """`key` works again: reported now when it was failing."""
        if self.retries.failing(key):
            self.retries.recovered(key)
            log.info("recovered", what=key)
            self.wake.set()

    def report_gaps(self, summary: GapSummary) -> None:
        """A gap was found, filled or failed: reported now."""
        self.gaps = summary
        self.wake.set()

    def build(self, status: Status, error_message: str | None = None) -> Telemetry:
        """The next message; `seq` grows by one on every build."""
        gaps = self.gaps
        return Telemetry(
            queue_id=self.env.queue_id,
            job=self.env.job_name,
            status=status,
            records_written=self.env.records_before + self.records_written,
            last_loaded_timestamp=self.last_loaded_timestamp,
            error_message=error_message[:4000] if error_message else None,
            finished_at=utcnow() if is_terminal(status) else None,
            seq=next(self._seq),
            stats=self._stats_with_warnings(),
            ts=utcnow(),
            retry=None if is_terminal(status) else self.retries.current(),
            gaps_detected=gaps.detected if gaps else None,
            gaps_open=gaps.open if gaps else None,
            records_backfilled=gaps.backfilled if gaps else None,
            gaps=gaps.gaps if gaps else None,
            rest_weight=self.weight_budget.report(),
            attempt=self.env.job_attempt,
            max_attempts=self.env.job_max_attempts,
        )

    def _stats_with_warnings(self) -> dict[str, Any] | None:
        if not self.warnings:
            return self.stats
        return {**(self.stats or {}), "warnings": list(self.warnings)}

    async def publish(
        self, status: Status, error_message: str | None = None, *, routine: bool = False
    ) -> None:
        """Send one telemetry message and wait for the broker's acknowledgement; `routine`
        marks the periodic reports, which a person reading the log does not need."""
        telemetry = self.build(status, error_message)
        await self.bus.send_json(self.env.queue_control_topic, self.env.queue_id, telemetry)
        log.info(
            "telemetry",
            routine=routine,
            status=status.value,
            seq=telemetry.seq,
            records_written=telemetry.records_written,
        )

    async def report_every(self, interval: float) -> None:
        """Report `loading` every interval (or at once after a warning) until cancelled."""
        failures = 0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), interval)
            self.wake.clear()
            try:
                await self.publish(Status.LOADING, routine=True)
            except QueueManagerError as error:
                failures += 1
                self.retries.retrying(TELEMETRY, failures, error.message, interval)
                log.warning("telemetry not delivered; next interval retries", error=str(error))
            else:
                failures = 0
                self.recovered(TELEMETRY)
