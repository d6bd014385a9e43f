"""Retries of a request and the record of a job's attempts (issue 16: retries with resume)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.models.status import Status


class RetryPolicy(BaseModel):
    """How often a failed job is tried again, and how long to wait between attempts.

    The wait before attempt n+1 is `backoff_seconds * factor**(n-1)`, capped at
    `max_backoff_seconds`. Only failures retry: not stops, not a bad configuration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int = Field(default=3, ge=0, le=100, description="Retries after the first attempt")
    backoff_seconds: float = Field(default=10.0, ge=0, le=86_400)
    factor: float = Field(default=2.0, ge=1, le=10)
    max_backoff_seconds: float = Field(default=600.0, ge=0, le=86_400)


NO_RETRY = RetryPolicy(limit=0)
"""A failed job stays failed."""


class Attempt(BaseModel):
    """One run of a job: its own process or Kubernetes Job."""

    attempt: int = Field(ge=1)
    status: Status = Status.STARTING
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error_message: str | None = None
