"""The one Binance REST reader of a job: every request paced to the job's share of the
weight budget (app/workers/weight_budget.py, by the weight of app/workers/binance/weights.py),
429/418 waited out exactly as `Retry-After` asks (every request of the job waits),
X-MBX-USED-WEIGHT-1M read, capped jittered retries, a bounded time to give up on an
unreachable exchange, every retry visible."""

from __future__ import annotations

from typing import Any, Protocol

import httpx
import orjson
import structlog

from app.workers.binance.errors import RateLimited, RequestRejected, ServerError
from app.workers.binance.settings import BinanceTuning
from app.workers.binance.weights import request_weight
from app.workers.health import Retries, patiently
from app.workers.weight_budget import WeightBudget

WEIGHT_HEADER = "x-mbx-used-weight-1m"
log = structlog.get_logger(__name__)


class PacedJob(Retries, Protocol):
    """What the client needs of the job: where retries are reported, and its budget."""

    @property
    def weight_budget(self) -> WeightBudget: ...


class RestClient:
    def __init__(self, base_url: str, tuning: BinanceTuning, job: PacedJob) -> None:
        self._tuning = tuning
        self._base_url = base_url.rstrip("/")
        self._retries = job
        self._budget = job.weight_budget
        self._http = httpx.AsyncClient(base_url=base_url, timeout=tuning.request_timeout_s)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get(self, path: str, params: dict[str, Any]) -> Any:
        """GET an idempotent read, paced to the job's share. 429/418: every request of the
        job waits exactly as long as Binance asks, however long. Transport failures and
        5xx: capped, jittered backoff until the exchange has been unreachable for
        HISTORY_GIVE_UP_SECONDS, then GaveUp naming the endpoint and the cause. Every
        failed attempt is reported (health `retrying`)."""
        what = f"GET {self._base_url}{path}"
        weight = request_weight(path, params)
        limited = 0
        while True:
            try:
                return await self._get_while_reachable(what, path, params, weight)
            except RateLimited as error:
                limited += 1
                log.warning(f"{what}: {error.message}", attempt=limited)
                self._retries.retrying(what, limited, error.message, error.retry_after)
                self._budget.pause_for(error.retry_after)

    async def _get_while_reachable(
        self, what: str, path: str, params: dict[str, Any], weight: int
    ) -> Any:
        """The first attempt's pacing wait is not part of the give-up clock; a retry's is
        (it is short: the bucket refilled during the backoff)."""
        await self._budget.spend(weight)
        attempts = 0

        async def attempt() -> Any:
            nonlocal attempts
            attempts += 1
            if attempts > 1:
                await self._budget.spend(weight)
            return await self._get_once(path, params)

        t = self._tuning
        return await patiently(
            attempt,
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
        return orjson.loads(response.content)

    def _note_weight(self, response: httpx.Response) -> None:
        raw = response.headers.get(WEIGHT_HEADER)
        if raw and raw.isdigit():
            self._budget.note_ip_used(int(raw))


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
