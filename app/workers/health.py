"""A job's health: the retries it can be seen doing. Every failed attempt is reported to
the job's telemetry as `retry` (health `retrying`), a success clears it.

`RetryBoard` keeps what is being retried now, by key (one per connection or client, since
several can retry at once), and answers the one to show: the longest run of failures.
`patiently()` is the bounded retry loop of history work: stamina's capped, jittered
backoff (logged by app/retries.py), each failure reported, and after `give_up_seconds` of
failing the job ends with an error that names the endpoint and the cause.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Protocol, TypeVar

from app.errors import DependencyUnavailable
from app.models.health import one_line
from app.models.messages import RetryReport
from app.models.queues import utcnow
from app.retries import retrying

T = TypeVar("T")


class Retries(Protocol):
    """Where retry loops report (the job's telemetry)."""

    def retrying(
        self,
        key: str,
        attempt: int,
        error: str,
        wait_seconds: float,
        max_attempts: int | None = None,
    ) -> None:
        """Attempt `attempt` of `key` failed with `error`; the next one in `wait_seconds`."""

    def recovered(self, key: str) -> None:
        """`key` works again."""


class GaveUp(DependencyUnavailable):
    """Retried for the whole allowed time without success: the job ends with this."""


class RetryBoard:
    """What is being retried now, by key."""

    def __init__(self) -> None:
        self._failing: dict[str, RetryReport] = {}

    def retrying(
        self,
        key: str,
        attempt: int,
        error: str,
        wait_seconds: float,
        max_attempts: int | None = None,
    ) -> None:
        self._failing[key] = RetryReport(
            attempt=max(1, attempt),
            max_attempts=max_attempts,
            last_error=one_line(f"{key}: {error}", 1000),
            retry_at=utcnow() + timedelta(seconds=max(0.0, wait_seconds)),
        )

    def recovered(self, key: str) -> None:
        self._failing.pop(key, None)

    def failing(self, key: str) -> bool:
        return key in self._failing

    def current(self) -> RetryReport | None:
        """The longest run of failures, or None when nothing is retried."""
        if not self._failing:
            return None
        return max(self._failing.values(), key=lambda report: report.attempt)


async def patiently(
    call: Callable[[], Awaitable[T]],
    *,
    what: str,
    retries: Retries,
    on: type[Exception],
    give_up_seconds: float | None,
    max_attempts: int | None = None,
    wait_initial: float = 0.5,
    wait_max: float = 30.0,
    wait_jitter: float = 1.0,
) -> T:
    """`call()` until it succeeds, retrying `on` with capped backoff; each failure reported
    under `what`, success clears it. Past `give_up_seconds` (or `max_attempts`), GaveUp;
    with neither, it retries until cancelled (streams)."""
    last: list[str] = []
    deadline = asyncio.timeout(give_up_seconds)
    try:
        async with deadline:
            async for attempt in retrying(
                what,
                on=on,
                attempts=max_attempts,
                timeout=None,
                wait_initial=wait_initial,
                wait_max=wait_max,
                wait_jitter=wait_jitter,
            ):
                with attempt:
                    try:
                        result = await call()
                    except on as error:
                        last[:] = [str(error) or type(error).__name__]
                        retries.retrying(
                            what, attempt.num, last[0], attempt.next_wait, max_attempts
                        )
                        raise
                    retries.recovered(what)
                    return result
    except TimeoutError:
        if not deadline.expired():
            raise  # the call's own timeout, not our deadline
        raise GaveUp(_gave_up(what, f"for {give_up_seconds:g} s", last)) from None
    except on as error:
        raise GaveUp(_gave_up(what, f"{max_attempts} times", last)) from error
    raise AssertionError("unreachable: stamina raises when attempts run out")


def _gave_up(what: str, how_long: str, last: list[str]) -> str:
    cause = last[0] if last else "no attempt finished in time"
    return f"gave up on {what} after failing {how_long}: {cause}"
