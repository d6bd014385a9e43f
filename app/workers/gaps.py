"""A stream job's gaps: found, backfilled, reported (docs/architecture.md, "Gaps in streams").

The `GapBook` keeps every gap of one job and tells the job's telemetry on every change, so
the service, the dashboard and the coverage map see each gap with its bounds within a
report. Gaps are logged when found and when filled or failed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from app.models.gaps import MAX_GAPS_REPORTED, Gap, GapKey
from app.models.health import one_line
from app.workers.records import now_ms

log = structlog.get_logger("app.workers.gaps")
RECENT_FILLED = 10


@dataclass(frozen=True)
class GapSummary:
    """What a job's telemetry carries about its gaps."""

    detected: int = 0
    open: int = 0
    backfilled: int = 0
    gaps: list[Gap] = field(default_factory=list)
    """The open gaps (oldest first), then the latest filled ones; at most MAX_GAPS_REPORTED."""


class GapBook:
    """Every gap of one job; `report` is called with the summary after each change."""

    def __init__(self, report: Callable[[GapSummary], None]) -> None:
        self._report = report
        self.detected = 0
        self.backfilled = 0
        self._open: list[Gap] = []
        self._filled: deque[Gap] = deque(maxlen=RECENT_FILLED)

    def found(
        self,
        symbol: str,
        stream: str,
        key: GapKey,
        first: int,
        last: int,
        times: tuple[int, int],
    ) -> Gap:
        """Records `first`..`last` by `key` are missing; their market times lie in `times`."""
        gap = Gap(
            symbol=symbol,
            stream=stream,
            key=key,
            first=first,
            last=last,
            from_ms=times[0],
            to_ms=times[1],
            state="open",
            backfilled=0,
            detected_ms=now_ms(),
            reason=None,
        )
        self.detected += 1
        self._open.append(gap)
        log.warning("gap in stream", **_bounds(gap))
        self._changed()
        return gap

    def filling(self, gap: Gap) -> None:
        gap["state"] = "filling"
        self._changed()

    def wrote(self, gap: Gap, records: int) -> None:
        """The backfill of `gap` wrote `records` more."""
        gap["backfilled"] += records
        self.backfilled += records
        self._changed()

    def filled(self, gap: Gap) -> None:
        gap["state"], gap["reason"] = "filled", None
        self._open.remove(gap)
        self._filled.append(gap)
        log.info("gap filled", backfilled=gap["backfilled"], **_bounds(gap))
        self._changed()

    def failed(self, gap: Gap, reason: str) -> None:
        gap["state"], gap["reason"] = "failed", one_line(reason)
        log.warning("gap backfill failed", reason=gap["reason"], **_bounds(gap))
        self._changed()

    def summary(self) -> GapSummary:
        shown = [*self._open[:MAX_GAPS_REPORTED], *self._filled]
        return GapSummary(
            detected=self.detected,
            open=len(self._open),
            backfilled=self.backfilled,
            gaps=[Gap(**gap) for gap in shown[:MAX_GAPS_REPORTED]],
        )

    def _changed(self) -> None:
        self._report(self.summary())


def _bounds(gap: Gap) -> dict[str, object]:
    """The gap's identity for the log."""
    return {
        "symbol": gap["symbol"],
        "stream": gap["stream"],
        "key": gap["key"],
        "first": gap["first"],
        "last": gap["last"],
        "from_ms": gap["from_ms"],
        "to_ms": gap["to_ms"],
    }
