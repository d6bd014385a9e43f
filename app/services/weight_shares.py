"""One Binance REST weight budget per market, shared by the running Binance loaders.

Every running `loader-producer` of a Binance market (history and streams alike: streams
fetch depth snapshots and backfill gaps over REST) gets an equal share of its market's
budget (BINANCE_REST_WEIGHT_PER_MINUTE, BINANCE_FUTURES_REST_WEIGHT_PER_MINUTE). Shares
follow the store's view of running loaders, so replicas agree, and carry a version: the
service's clock in ms taken before it reads the store (monotonic per replica), so a share
computed from a newer view wins and a late copy of an older one changes nothing.

- At launch: the launching loaders get their share in their environment, and the loaders
  already running get their smaller share over queue-control first (shrink before grow:
  they hear of it while the new jobs start).
- When a loader ends (the change feed) and every BINANCE_REST_SHARE_REFRESH_SECONDS (lost
  messages, other replicas), every running loader is sent its share.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import structlog

from app.config import Settings
from app.errors import QueueManagerError
from app.metrics import Metrics
from app.models.catalog import Exchange, Target
from app.models.messages import WeightShareCommand
from app.models.queues import JobState, QueueState
from app.models.status import Status
from app.services.changes import QueueChange
from app.services.queue_service import QueueService
from app.store.base import QueueStore

log = structlog.get_logger(__name__)
MARKETS = (Exchange.BINANCE, Exchange.BINANCE_FUTURES)
RUNNING = frozenset({Status.STARTING, Status.LOADING, Status.STOPPING})
"""Jobs that may send requests: launched and not ended."""
Loader = tuple[str, str]
"""(queue id, job name)"""
Send = Callable[[WeightShareCommand], None]
SHARE_ENV = (
    "BINANCE_REST_WEIGHT_SHARE",
    "BINANCE_REST_WEIGHT_SHARE_VERSION",
    "BINANCE_REST_LOADERS",
)
"""What a launching loader's environment gets (app/workers/base.JobEnv reads it)."""


def is_binance_loader(queue: QueueState, job: JobState) -> bool:
    return job.target is Target.LOADER_PRODUCER and queue.exchange in MARKETS


def running_loaders(queues: Iterable[QueueState]) -> dict[Exchange, set[Loader]]:
    """The running Binance loaders of each market."""
    found: dict[Exchange, set[Loader]] = defaultdict(set)
    for queue in queues:
        for job in queue.jobs:
            if is_binance_loader(queue, job) and job.status in RUNNING:
                found[queue.exchange].add((queue.id, job.name))
    return found


@dataclass(frozen=True)
class Shares:
    """One market's budget split among its loaders, as of `version`."""

    market: Exchange
    budget: int
    loaders: frozenset[Loader]
    version: int

    @property
    def share(self) -> int:
        return max(1, self.budget // max(1, len(self.loaders)))

    def command(self, loader: Loader) -> WeightShareCommand:
        queue_id, job = loader
        return WeightShareCommand(
            command_id=str(uuid.uuid4()),
            queue_id=queue_id,
            job=job,
            market=self.market.value,
            share=self.share,
            budget=self.budget,
            loaders=max(1, len(self.loaders)),
            version=self.version,
        )

    def env(self) -> dict[str, str]:
        """A launching loader's environment (SHARE_ENV)."""
        values = (self.share, self.version, max(1, len(self.loaders)))
        return {name: str(value) for name, value in zip(SHARE_ENV, values, strict=True)}


class WeightShares:
    def __init__(
        self,
        store: QueueStore,
        budgets: dict[Exchange, int],
        metrics: Metrics,
        refresh_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._budgets = budgets
        self._metrics = metrics
        self._refresh = refresh_seconds
        self._clock = clock
        self._last_version = 0
        self._known: dict[str, tuple[Exchange, frozenset[str]]] = {}
        """This replica's view of each queue's running loaders (from the change feed)."""
        self._dirty = asyncio.Event()
        self.send: Send | None = None
        """Where share commands go (queue-control, through the outbox); set by the control
        plane. Until then shares reach loaders through their environment only."""

    @classmethod
    def for_service(cls, settings: Settings, store: QueueStore, metrics: Metrics) -> WeightShares:
        budgets = {
            Exchange.BINANCE: settings.binance_rest_weight_per_minute,
            Exchange.BINANCE_FUTURES: settings.binance_futures_rest_weight_per_minute,
        }
        return cls(store, budgets, metrics, settings.binance_rest_share_refresh_seconds)

    def attach(self, service: QueueService) -> None:
        """Asked before every launch, told of every change."""
        service.launch_env.append(self.launch_env)
        service.feed.subscribe(self.on_change)

    @property
    def stale(self) -> bool:
        """A loader ended since the shares were last sent."""
        return self._dirty.is_set()

    # --- hooks of the queue service -------------------------------------------------------
    async def launch_env(
        self, queue: QueueState, jobs: list[JobState]
    ) -> dict[str, dict[str, str]]:
        """The share of each Binance loader about to launch, by job name; the running
        loaders of the market are sent their new, smaller share first."""
        launching = {(queue.id, job.name) for job in jobs if is_binance_loader(queue, job)}
        if not launching:
            return {}
        version = self._next_version()
        running = (await self._running()).get(queue.exchange, set())
        shares = self._split(queue.exchange, running | launching, version)
        self._send(shares, running - launching)
        self._note(shares)
        return {job: shares.env() for _, job in launching}

    async def on_change(self, change: QueueChange) -> None:
        """ChangeFeed listener: when a loader ends, the others' shares grow. (A loader that
        starts was given its share at launch, and the others theirs before it.)"""
        queue = change.queue
        if queue.exchange not in MARKETS:
            return
        names = frozenset(
            job.name
            for job in queue.jobs
            if is_binance_loader(queue, job) and job.status in RUNNING
        )
        known = self._known.get(queue.id, (queue.exchange, frozenset()))[1]
        if known != names:
            self._remember(queue, names)
            if known - names:
                self._dirty.set()

    # --- the long-lived task --------------------------------------------------------------
    async def run(self) -> None:
        """Send every running loader its share when a loader ends and every refresh period
        (forever; cancel to stop). Loaders that ran before a restart of the service keep
        the shares they had until the first period ends: those still add up."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), self._refresh)
            await self.broadcast()

    async def broadcast(self) -> None:
        """Every running loader's share from the store's view (a store outage skips it)."""
        self._dirty.clear()
        version = self._next_version()
        queues = await self._view()
        if queues is None:
            return
        running = running_loaders(queues)
        for market in MARKETS:
            shares = self._split(market, running.get(market, set()), version)
            self._send(shares, shares.loaders)
            self._note(shares)
            self._note_used(shares, queues)

    # --- internals ------------------------------------------------------------------------
    def _next_version(self) -> int:
        """Taken before the store is read: a later version saw a later store."""
        self._last_version = max(int(self._clock() * 1000), self._last_version + 1)
        return self._last_version

    async def _view(self) -> list[QueueState] | None:
        try:
            return await self._store.active()
        except QueueManagerError as error:
            log.warning("weight shares: the store cannot be read", error=error.message)
            return None

    async def _running(self) -> dict[Exchange, set[Loader]]:
        """The store's view; this replica's own when the store cannot be read (a launch
        never waits on the store for its share)."""
        queues = await self._view()
        return running_loaders(queues) if queues is not None else self._known_view()

    def _known_view(self) -> dict[Exchange, set[Loader]]:
        found: dict[Exchange, set[Loader]] = defaultdict(set)
        for queue_id, (market, names) in self._known.items():
            found[market] |= {(queue_id, name) for name in names}
        return found

    def _remember(self, queue: QueueState, names: frozenset[str]) -> None:
        if names:
            self._known[queue.id] = (queue.exchange, names)
        else:
            self._known.pop(queue.id, None)

    def _split(self, market: Exchange, loaders: set[Loader], version: int) -> Shares:
        return Shares(market, self._budgets[market], frozenset(loaders), version)

    def _send(self, shares: Shares, loaders: Iterable[Loader]) -> None:
        if self.send is None:
            return
        for loader in sorted(loaders):
            self.send(shares.command(loader))
            self._metrics.weight_share_messages.labels(shares.market.value).inc()

    def _note(self, shares: Shares) -> None:
        """The gauges of /metrics, from the store's view (every replica reports the whole)."""
        market = shares.market.value
        self._metrics.weight_budget.labels(market).set(shares.budget)
        self._metrics.weight_loaders.labels(market).set(len(shares.loaders))
        self._metrics.weight_share.labels(market).set(shares.share if shares.loaders else 0)

    def _note_used(self, shares: Shares, queues: list[QueueState]) -> None:
        used = sum(
            job.rest_weight.used
            for queue in queues
            for job in queue.jobs
            if (queue.id, job.name) in shares.loaders and job.rest_weight is not None
        )
        self._metrics.weight_used.labels(shares.market.value).set(used)
