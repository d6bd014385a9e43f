"""The stall checker: a long-lived task applying the stall rule to every active queue, and
keeping the health gauges of /metrics current from the same scan."""

from __future__ import annotations

import asyncio
from collections import Counter

import structlog

from app.errors import QueueManagerError
from app.metrics import Metrics
from app.models.catalog import Exchange
from app.models.health import HealthState
from app.models.queues import QueueState
from app.models.status import is_terminal
from app.services.queue_service import QueueService

log = structlog.get_logger(__name__)
MAX_CHECK_SECONDS = 5.0
MIN_CHECK_SECONDS = 0.2


class StallWatch:
    def __init__(self, service: QueueService, metrics: Metrics) -> None:
        self._service = service
        self._metrics = metrics
        after = service.stall_after or MAX_CHECK_SECONDS * 3
        self.every = max(MIN_CHECK_SECONDS, min(MAX_CHECK_SECONDS, after / 3))
        """A third of the stall period: a stall shows within 4/3 of STALL_AFTER_SECONDS."""

    async def run(self) -> None:
        """Check, then wait, forever (cancel to stop); a store outage skips a round."""
        while True:
            await self.check()
            await asyncio.sleep(self.every)

    async def check(self) -> None:
        try:
            queues = await self._service.mark_stalls()
        except QueueManagerError as error:
            log.warning("stall check skipped", error=error.message)
            return
        self._count(queues)

    def _count(self, queues: list[QueueState]) -> None:
        jobs = Counter(j.health.state for q in queues for j in q.jobs if not is_terminal(j.status))
        by_queue = Counter(queue.health.state for queue in queues)
        for state in HealthState:
            self._metrics.jobs_by_health.labels(state.value).set(jobs[state])
            self._metrics.queues_by_health.labels(state.value).set(by_queue[state])
        gaps = Counter({exchange.value: 0 for exchange in Exchange})
        for queue in queues:
            gaps[queue.exchange.value] += queue.gaps_open
        for exchange, count in gaps.items():
            self._metrics.gaps_open.labels(exchange).set(count)
