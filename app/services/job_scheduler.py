"""The job scheduler: launches pending jobs when they may start (issue 16).

A supervised task (`job-scheduler`) runs a scheduling pass (app/services/scheduling.py)
over the store's active queues whenever a queue changes in a way that can free a slot or
ready an input (a job's status moved, a real-time producer wrote its first records), when
a queue is started, at the earliest retry time, and every SCHEDULING_PERIOD_SECONDS
anyway (a launcher that was down, another replica's changes). Passes never overlap, and
a pass admits from the store's view of running jobs, so slots are never leaked.

Replicas sharing a store admit one at a time: a pass first takes or renews the store's
`admission` lease (a conditional write, valid LEASE_PERIODS scheduling periods); a replica
that does not hold it leaves every pending job to the one that does. The holder is the
host and DATA_DIR, so a service restarted in place (one per DATA_DIR, by its flock) takes
its lease back at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import datetime

import structlog

from app.errors import QueueManagerError
from app.metrics import Metrics
from app.models.queues import QueueState, utcnow
from app.models.status import is_terminal
from app.services.admission import ALL, Limits
from app.services.changes import QueueChange
from app.services.queue_service import QueueService
from app.services.scheduling import Plan, QueuePlan, plan

log = structlog.get_logger(__name__)
SETTLE_SECONDS = 2.0
"""How long a start waits for the pass that looks at its new queue."""
REASON_KINDS = ("input", "slot", "retry")
LEASE = "admission"
LEASE_PERIODS = 3
Signature = tuple[tuple[str, bool], ...]


class JobScheduler:
    def __init__(
        self,
        service: QueueService,
        limits: Limits,
        metrics: Metrics,
        period_seconds: float,
        holder: str | None = None,
    ) -> None:
        self._service = service
        self._limits = limits
        self._metrics = metrics
        self._period = period_seconds
        self.ready = asyncio.Event()
        """Set once restart recovery is done: passes begin then."""
        self._wake = asyncio.Event()
        self._begun = self._ended = 0
        self._pass_ended = asyncio.Event()
        self._seen: dict[str, Signature] = {}
        self._holder = holder or str(uuid.uuid4())
        """Who holds the lease: the same service restarted (same host and DATA_DIR) takes
        it back at once; another replica waits for it to expire."""
        self._known: dict[str, QueueState] = {}
        """The active queues as last read, by id (a pass reads again only those whose
        stored revision moved)."""
        self._settling: dict[str, QueueState | None] = {}
        """Queues a start waits for, with what the pass launched of them (the answer says
        what happened even when the store did not take the launch record yet)."""

    def attach(self) -> None:
        """Become the service's admission and follow its changes."""
        self._service.admission = self
        self._service.feed.subscribe(self._on_change)

    async def run(self) -> None:
        """Pass, then sleep until woken or the next retry time or period (cancel to stop)."""
        await self.ready.wait()
        while True:
            self._wake.clear()
            wake_at = await self.run_pass()
            await self._sleep(wake_at)

    async def settle(self, queue: QueueState) -> QueueState:
        """The queue after the next pass that began after this call (bounded wait)."""
        wanted = self._begun + 1
        self._settling[queue.id] = None
        self._wake.set()
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SETTLE_SECONDS):
                    while self._ended < wanted:
                        await self._pass_ended.wait()
        finally:
            launched = self._settling.pop(queue.id, None)
        return launched or await self._service.store.get(queue.id)

    async def run_pass(self) -> datetime | None:
        """One pass; the earliest retry time it saw. A store outage skips it (logged)."""
        self._begun += 1
        number = self._begun
        try:
            return await self._pass()
        except QueueManagerError as error:
            log.warning("scheduling pass skipped", error=error.message)
            return None
        finally:
            self._ended = number
            ended, self._pass_ended = self._pass_ended, asyncio.Event()
            ended.set()

    async def _pass(self) -> datetime | None:
        store = self._service.store
        held = await store.hold_lease(LEASE, self._holder, self._period * LEASE_PERIODS)
        self._metrics.admission_lease.set(1 if held else 0)
        if not held:
            return None
        decided = plan(await self._view(), self._limits, utcnow())
        await self._launch([queue for queue in decided.queues if queue.launch])
        holds = {q.queue.id: (q.skip, q.waiting) for q in decided.queues if q.writes}
        if holds:
            await self._service.hold(holds)
        self._report(decided)
        return decided.wake_at

    async def _view(self) -> list[QueueState]:
        """The store's active queues: those unchanged since the last pass as read then,
        the others read again (a queue that no longer reads is left out, logged)."""
        store = self._service.store
        revisions = await store.active_revisions()
        stale = [
            i
            for i, rev in revisions.items()
            if (q := self._known.get(i)) is None or q.revision != rev
        ]
        fresh = await asyncio.gather(*(store.get(i) for i in stale), return_exceptions=True)
        self._known = {i: q for i, q in self._known.items() if i in revisions}
        for queue_id, found in zip(stale, fresh, strict=True):
            if isinstance(found, QueueState):
                self._known[queue_id] = found
            else:
                self._known.pop(queue_id, None)
                log.warning("scheduling: queue not read", queue_id=queue_id, error=str(found))
        return list(self._known.values())

    async def _launch(self, admitted: list[QueuePlan]) -> None:
        """Launch first (the sentences of those still waiting are written after)."""
        results = await asyncio.gather(
            *(
                self._service.launch_admitted(q.queue.model_copy(deep=True), q.launch)
                for q in admitted
            ),
            return_exceptions=True,
        )
        for decided, result in zip(admitted, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("launch failed", queue_id=decided.queue.id, error=str(result))
            elif result.id in self._settling:
                self._settling[result.id] = result

    def _report(self, decided: Plan) -> None:
        for kind in REASON_KINDS:
            self._metrics.jobs_waiting.labels(kind).set(decided.waiting[kind])
        for scope, limit in decided.slots.limits.items():
            self._metrics.admission_slots_limit.labels(scope).set(limit)
        for scope in {ALL, *decided.slots.limits}:
            self._metrics.admission_slots_used.labels(scope).set(decided.slots.in_use[scope])

    async def _sleep(self, wake_at: datetime | None) -> None:
        timeout = self._period
        if wake_at is not None:
            timeout = min(timeout, max(0.0, (wake_at - utcnow()).total_seconds()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    async def _on_change(self, change: QueueChange) -> None:
        """Wake for changes that can free a slot or ready an input; not for the waiting
        sentences a pass writes itself."""
        queue = change.queue
        if is_terminal(queue.status):
            if self._seen.pop(queue.id, None) is not None or change.previous != queue.status:
                self._wake.set()
            return
        signature = tuple((job.status.value, job.records_written > 0) for job in queue.jobs)
        if self._seen.get(queue.id) != signature:
            self._seen[queue.id] = signature
            self._wake.set()
