"""Readiness checks with a timeout each: a hung dependency answers 503 in time, never hangs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from app.errors import QueueManagerError

Check = Callable[[], Awaitable[None]]


class HealthChecks:
    def __init__(self, timeout_seconds: float) -> None:
        self._timeout = timeout_seconds
        self._checks: dict[str, Check] = {}

    def add(self, name: str, check: Check) -> None:
        self._checks[name] = check

    async def run(self) -> dict[str, str]:
        """Every check at once; "ok" or the reason per dependency."""
        names = list(self._checks)
        results = await asyncio.gather(*(self._one(self._checks[name]) for name in names))
        return dict(zip(names, results, strict=True))

    async def _one(self, check: Check) -> str:
        try:
            await asyncio.wait_for(check(), timeout=self._timeout)
        except TimeoutError:
            return f"no answer within {self._timeout:g} s"
        except QueueManagerError as error:
            return error.message
        except Exception as error:
            return f"{type(error).__name__}: {error}"
        return "ok"
