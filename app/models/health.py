"""Health: how a running job or queue is doing, beside its status (issue 11, item 4).

A status says where a job is in its life (`loading`); health says whether that is going
well. Job health comes from its own telemetry (`retry` while it retries) and from the
stall checker (no telemetry for STALL_AFTER_SECONDS); queue health is derived from its
jobs. Ended jobs and queues are `ok`: their status and error_message tell the rest.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class HealthState(StrEnum):
    OK = "ok"
    RETRYING = "retrying"
    """A job retries (connection failures, 429/418 waits, reconnects); details beside."""
    STALLED = "stalled"
    """No telemetry from a starting or loading job for STALL_AFTER_SECONDS."""
    DEGRADED = "degraded"
    """Queues only: a job failed while others still run."""


SEVERITY = {
    HealthState.OK: 0,
    HealthState.RETRYING: 1,
    HealthState.STALLED: 2,
    HealthState.DEGRADED: 3,
}
MAX_REASON_CHARS = 300


class Health(BaseModel):
    """`state` plus, when it is not ok, one line saying why."""

    state: HealthState = HealthState.OK
    reason: str | None = Field(default=None, description="one line: what is wrong")
    job: str | None = Field(default=None, description="queues: the job this is about")
    attempt: int | None = Field(default=None, description="retrying: the attempt that failed")
    max_attempts: int | None = Field(default=None, description="retrying: when bounded")
    last_error: str | None = Field(default=None, description="retrying: the last failure")
    retry_at: datetime | None = Field(default=None, description="retrying: next attempt")
    since: datetime | None = Field(
        default=None, description="stalled: the last telemetry (or the launch)"
    )

    @property
    def severity(self) -> int:
        return SEVERITY[self.state]


OK = Health()
"""Shared by every healthy job and queue: never changed in place, only replaced."""


def one_line(text: str, limit: int = MAX_REASON_CHARS) -> str:
    """Collapse whitespace (tracebacks, log tails) to one line of at most `limit` chars."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
