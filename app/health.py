"""Readiness: dependency checks with a timeout each (a hung dependency answers 503 in time,
never hangs), plus sources that report several names at once (the supervised tasks).

The answers are public (`/health/ready` is open by default): a reason says what is wrong
in words and never shows a local path.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

import structlog

from app.errors import QueueManagerError

log = structlog.get_logger(__name__)
Check = Callable[[], Awaitable[None]]
Source = Callable[[], dict[str, str]]
_LOCAL_PATH = re.compile(r"(?<![\w:/.~-])(?:/[\w.@+~-]+){2,}/?")


def without_paths(reason: str) -> str:
    """`unable to open /var/lib/qm/queue-manager.db` -> `unable to open <path>`."""
    return _LOCAL_PATH.sub("<path>", reason)


class HealthChecks:
    def __init__(self, timeout_seconds: float) -> None:
        self._timeout = timeout_seconds
        self._checks: dict[str, Check] = {}
        self._sources: dict[str, Source] = {}

    def add(self, name: str, check: Check) -> None:
        self._checks[name] = check

    def add_source(self, prefix: str, source: Source) -> None:
        """Each name `source()` reports is an entry `<prefix><name>` ("ok" or why not)."""
        self._sources[prefix] = source

    async def run(self) -> dict[str, str]:
        """Every check at once; "ok" or the reason per dependency and per task."""
        names = list(self._checks)
        results = await asyncio.gather(*(self._one(self._checks[name]) for name in names))
        report = dict(zip(names, results, strict=True))
        for prefix, source in self._sources.items():
            report.update({f"{prefix}{name}": why for name, why in source().items()})
        return {name: without_paths(reason) for name, reason in report.items()}

    async def _one(self, check: Check) -> str:
        try:
            await asyncio.wait_for(check(), timeout=self._timeout)
        except TimeoutError:
            return f"no answer within {self._timeout:g} s"
        except QueueManagerError as error:
            return error.message
        except Exception as error:
            log.exception("readiness check failed unexpectedly")
            return f"unexpected {type(error).__name__} (see the service log)"
        return "ok"
