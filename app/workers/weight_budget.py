"""A job's share of an exchange's request-weight budget, and the pace it keeps.

The service hands each running Binance loader a share of BINANCE_REST_WEIGHT_PER_MINUTE (in
its environment at start, then over queue-control: `weight_share` commands, newest version
wins). Every REST request of the job spends its weight here first; one WeightBudget per job
process, so all its REST users (history pages, depth snapshots, gap backfill) share it.

A token bucket, FIFO: it holds at most BURST of the share and refills at the rest of the
share per window, so in any window (sliding, hence also Binance's calendar minute) the job
spends at most its share. It starts full; a smaller share clamps what it holds. A request
heavier than the bucket waits for a full bucket and leaves it in debt (the pace holds on
average). 429/418 pause every request until `Retry-After` has passed; an IP-wide used
weight (X-MBX-USED-WEIGHT-1M) at the whole budget pauses until the next window.

Not aiolimiter: its rate cannot change while it runs (the share does), its waiters are
served lightest first (a depth snapshot would starve behind klines), and it cannot pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from app.models.weight import RestWeightReport

if TYPE_CHECKING:
    from app.workers.base import JobEnv

BURST = 0.1
"""The part of the share a full bucket holds (sent at once after an idle spell)."""
Clock = Callable[[], float]


def budget_for(env: JobEnv) -> WeightBudget:
    """The job's budget as the service launched it: its share, or alone with the whole
    budget of its market when it was given none."""
    share = env.binance_rest_weight_share
    return WeightBudget(
        share or env.binance_rest_budget,
        budget=env.binance_rest_budget,
        loaders=env.binance_rest_loaders,
        version=env.binance_rest_weight_share_version,
        window_s=env.binance_rest_weight_window_seconds,
        assigned=share is not None,
    )


class WeightBudget:
    def __init__(
        self,
        share: int,
        *,
        budget: int,
        loaders: int = 1,
        version: int = 0,
        window_s: float = 60.0,
        assigned: bool = False,
        clock: Clock = time.monotonic,
    ) -> None:
        self.share, self.budget, self.loaders, self.version = share, budget, loaders, version
        self.window_s = window_s
        self.assigned = assigned
        """True once the service gave a share (then the job reports it)."""
        self.ip_used: int | None = None
        self._clock = clock
        self._tokens, self._stamp = self.capacity, clock()
        self._paused_until = 0.0
        self._spent: deque[tuple[float, int]] = deque()
        self._turn = asyncio.Lock()
        self._changed = asyncio.Event()

    @property
    def capacity(self) -> float:
        return self.share * BURST

    @property
    def rate(self) -> float:
        """Weight per second the bucket refills."""
        return self.share * (1 - BURST) / self.window_s

    # --- the share ----------------------------------------------------------------------
    def apply(self, share: int, version: int, *, budget: int, loaders: int) -> bool:
        """Take a newer share; an older or repeated version changes nothing."""
        if version <= self.version:
            return False
        self._refill()
        self.share, self.version, self.budget, self.loaders = share, version, budget, loaders
        self.assigned = True
        self._tokens = min(self._tokens, self.capacity)
        self._changed.set()
        return True

    # --- spending -----------------------------------------------------------------------
    async def spend(self, weight: int) -> None:
        """Wait (in turn) until `weight` may be sent, then count it as sent."""
        async with self._turn:
            while (wait := self._wait_for(weight)) > 0:
                await self._sleep_unless_changed(wait)
            self._tokens -= weight
            self._spent.append((self._clock(), weight))

    def pause_for(self, seconds: float) -> None:
        """No request for `seconds` (429/418 Retry-After), whoever asks."""
        self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))
        self._changed.set()

    def note_ip_used(self, used: int) -> None:
        """The exchange's count for our IP this window; at the budget, wait for the next."""
        self.ip_used = used
        if used >= self.budget:
            self.pause_for(self.window_s - time.time() % self.window_s + 0.01)

    def used(self) -> int:
        """Weight this job sent in the last window."""
        horizon = self._clock() - self.window_s
        while self._spent and self._spent[0][0] <= horizon:
            self._spent.popleft()
        return sum(weight for _, weight in self._spent)

    def report(self) -> RestWeightReport | None:
        """What telemetry shows; None for a job that neither has a share nor spent any."""
        if not self.assigned and not self._spent:
            return None
        return RestWeightReport(
            share=self.share,
            budget=self.budget,
            loaders=self.loaders,
            version=self.version,
            used=self.used(),
            ip_used=self.ip_used,
            window_seconds=self.window_s,
            waiting_until=self._waiting_until(),
        )

    # --- internals ----------------------------------------------------------------------
    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def _wait_for(self, weight: int) -> float:
        """Seconds until `weight` may go: a pause first, then the bucket's refill."""
        self._refill()
        paused = self._paused_until - self._clock()
        if paused > 0:
            return paused
        deficit = min(float(weight), self.capacity) - self._tokens
        if deficit <= 0:
            return 0.0
        return deficit / self.rate if self.rate > 0 else self.window_s

    async def _sleep_unless_changed(self, seconds: float) -> None:
        """Sleep, but look again at once when the share changes or a pause begins."""
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), seconds)

    def _waiting_until(self) -> datetime | None:
        left = self._paused_until - self._clock()
        if left <= 0:
            return None
        return datetime.fromtimestamp(time.time() + left, UTC)
