"""A polite Binance REST reader: weight-aware pacing, Retry-After, capped jittered retries,
a bounded time to give up on an unreachable exchange, every retry visible."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import orjson
import structlog

from app.workers.binance.errors import RateLimited, RequestRejected, ServerError
from app.workers.binance.settings import BinanceTuning
from app.workers.health import Retries, patiently

WEIGHT_HEADER = "x-mbx-used-weight-1m"
log = structlog.get_logger(__name__)


class RestClient:
    def __init__(self, base_url: str, tuning: BinanceTuning, retries: Retries) -> None:
        self._tuning = tuning
        self._base_url = base_url.rstrip("/")
        self._retries = retries
        self._http = httpx.AsyncClient(base_url=base_url, timeout=tuning.request_timeout_s)
        self.used_weight = 0

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get(self, path: str, params: dict[str, Any]) -> Any:
        """GET an idempotent read. 429/418: wait exactly as long as Binance asks, however
        long. Transport failures and 5xx: capped, jittered backoff until the exchange has
        been unreachable for HISTORY_GIVE_UP_SECONDS, then GaveUp naming the endpoint and
        the cause. Every wait is reported (health `retrying`)."""
        what = f"GET {self._base_url}{path}"
        limited = 0
        while True:
            try:
                return await self._get_while_reachable(what, path, params)
            except RateLimited as error:
                limited += 1
                log.warning(f"{what}: {error.message}", attempt=limited)
                self._retries.retrying(what, limited, error.message, error.retry_after)
                await asyncio.sleep(error.retry_after)

    async def _get_while_reachable(self, what: str, path: str, params: dict[str, Any]) -> Any:
        t = self._tuning
        return await patiently(
            lambda: self._get_once(path, params),
            what=what,
            retries=self._retries,
            on=ServerError,
            give_up_seconds=t.give_up_s,
            max_attempts=t.retry_attempts,
            wait_initial=t.retry_initial_s,
            wait_max=t.retry_max_s,
            wait_jitter=t.retry_jitter_s,
        )

    async def _get_once(self, path: str, params: dict[str, Any]) -> Any:
        try:
            response = await self._http.get(path, params=params)
        except httpx.HTTPError as error:
            raise ServerError(f"{type(error).__name__}: {error}") from error
        self._note_weight(response)
        _raise_for_status(response)
        await self._slow_down_near_limit()
        return orjson.loads(response.content)

    def _note_weight(self, response: httpx.Response) -> None:
        raw = response.headers.get(WEIGHT_HEADER)
        if raw and raw.isdigit():
            self.used_weight = int(raw)

    async def _slow_down_near_limit(self) -> None:
        """Near the per-minute weight limit, wait for the next window instead of a 429."""
        t = self._tuning
        if self.used_weight < t.weight_limit_1m * t.weight_slowdown_ratio:
            return
        window = t.weight_window_s
        await asyncio.sleep(window - (time.time() % window) + 0.01)
        self.used_weight = 0


def _raise_for_status(response: httpx.Response) -> None:
    status = response.status_code
    if status in (429, 418):
        raise RateLimited(status, _retry_after(response))
    if status >= 500:
        raise ServerError(f"Binance answered {status}")
    if status >= 400:
        raise RequestRejected(f"Binance answered {status}: {response.text[:200]}")


def _retry_after(response: httpx.Response) -> float:
    raw = response.headers.get("retry-after", "")
    try:
        return max(float(raw), 0.0)
    except ValueError:
        return 60.0
