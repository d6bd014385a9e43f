"""Retries (stamina) that say in words what they retry, which attempt failed and why.

stamina names a `retry_context` block "<context block>" in its log records; `retrying()`
gives the block a name and its attempt limit, and `log_retry` (installed by
app/logging.configure_logging) writes one readable warning per scheduled retry.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Any

import stamina
import structlog
from stamina.instrumentation import RetryDetails

from app.errors import QueueManagerError

log = structlog.get_logger("app.retries")


def retrying(
    what: str, *, attempts: int | None = 10, **options: Any
) -> AsyncIterable[stamina.Attempt]:
    """`stamina.retry_context(...)` whose retries are logged as retries of `what`."""
    context = stamina.retry_context(attempts=attempts, **options)
    return context.with_name(what, (), {"attempts": attempts})


def log_retry(details: RetryDetails) -> None:
    """`connect to Kafka: attempt 3 of 10 failed (BrokerUnavailable: ...); retrying in 0.8 s`."""
    limit = details.kwargs.get("attempts")
    of = f" of {limit}" if isinstance(limit, int) else ""
    error = describe_error(details.caused_by)
    log.warning(
        f"{details.name}: attempt {details.retry_num}{of} failed ({error}); "
        f"retrying in {details.wait_for:.1f} s",
        retrying=details.name,
        attempt=details.retry_num,
        error=error,
        retry_in_seconds=round(details.wait_for, 1),
    )


def describe_error(error: BaseException) -> str:
    """Our errors by their message (already in words); others as `ConnectError: [Errno 111]
    Connection refused`, or the type alone when the error says nothing."""
    if isinstance(error, QueueManagerError):
        return error.message
    text = str(error).strip()
    name = type(error).__name__
    return f"{name}: {text}" if text else name
