"""The coverage gauge of /metrics: days by state over the last COUNT_DAYS of every series,
recounted by a supervised task every COUNT_EVERY_SECONDS."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import structlog

from app.coverage.service import CoverageService
from app.errors import QueueManagerError
from app.models.coverage import CoverageQuery, DayState

log = structlog.get_logger(__name__)
COUNT_DAYS = 7
COUNT_EVERY_SECONDS = 60.0


class CoverageCount:
    def __init__(self, service: CoverageService, every: float = COUNT_EVERY_SECONDS) -> None:
        self.service, self.every = service, every

    async def run(self) -> None:
        """Once the store is open: count, then wait, forever (cancel to stop); a store
        outage skips a round."""
        await self.service.ready.wait()
        while True:
            await self.count()
            await asyncio.sleep(self.every)

    async def count(self) -> None:
        today = self.service.today()
        query = CoverageQuery(start=today - timedelta(days=COUNT_DAYS - 1), end=today)
        try:
            found = await self.service.map(query)
        except QueueManagerError as error:
            log.warning("coverage count skipped", error=error.message)
            return
        states = Counter(day.state for series in found.series for day in series.days)
        for state in DayState:
            self.service.metrics.coverage_days.labels(state.value).set(states[state])
