"""The scheduler's clock, injected: the system clock in the service, a clock the test
drives in tests (tests/fixtures/clock.py), so no test sleeps to reach a slot."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Protocol

MAX_NAP_SECONDS = 30.0
"""The longest the scheduler sleeps without looking again: a wall-clock jump, or a schedule
another replica changed, is noticed within this."""


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, aware, in UTC."""

    async def sleep_until(self, when: datetime | None, wake: asyncio.Event) -> None:
        """Return at `when` (None: no slot ahead), when `wake` is set, or after at most
        MAX_NAP_SECONDS, whichever comes first. The caller clears `wake`."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime | None, wake: asyncio.Event) -> None:
        seconds = MAX_NAP_SECONDS
        if when is not None:
            seconds = min(seconds, max(0.0, (when - self.now()).total_seconds()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=seconds)
