"""One Binance REST weight budget through the real service: two history loaders (real
`python -m app.workers loader-producer` processes) against the local Binance REST server
share BINANCE_REST_WEIGHT_PER_MINUTE, measured from the server's request log. The budget's
window is 2 s here (BINANCE_REST_WEIGHT_WINDOW_SECONDS, and the server counts the same), so
a "minute" passes quickly."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.fakes.binance_rest import FakeBinanceRest, Logged
from tests.fixtures.binance import serving_binance
from tests.fixtures.eventually import eventually

pytestmark = pytest.mark.timeout(90)
WINDOW = 2.0
BUDGET = 60
LOADER = {
    "loader-producer": {
        "command": ["python", "-m", "app.workers", "loader-producer"],
        "env": {"BINANCE_REST_WEIGHT_WINDOW_SECONDS": str(WINDOW)},
    }
}


def history(prefix: str, tickers: int) -> dict[str, Any]:
    """A queue with one loader of a day of hourly candles for many tickers: one request
    (weight 2) per ticker, cheap to process, so the budget sets the pace, not the CPU."""
    return {
        "symbols": [f"{prefix}{i:03d}USDT" for i in range(tickers)],
        "time_range": "2024-06-01:2024-06-01",
        "requests": [{"target": "loader-producer", "type": "api_candles_1h", "interval": "1h"}],
    }


@pytest.fixture
async def binance() -> AsyncIterator[FakeBinanceRest]:
    async with serving_binance(weight_window_s=WINDOW) as server:
        yield server


def of(binance: FakeBinanceRest, prefix: str) -> list[Logged]:
    return [entry for entry in binance.log if entry.params["symbol"].startswith(prefix)]


def pace(entries: list[Logged], start: float, end: float) -> float:
    """Weight a second sent between two moments (monotonic)."""
    sent = sum(entry.weight for entry in entries if start <= entry.at < end)
    return sent / (end - start)


def ended(queue: dict[str, Any]) -> bool:
    return queue["status"] in ("finished", "stopped", "error")


def sharing(loaders: int) -> Callable[[dict[str, Any]], bool]:
    def check(queue: dict[str, Any]) -> bool:
        weight = queue["jobs"][0]["rest_weight"]
        return weight is not None and weight["loaders"] == loaders

    return check


async def test_two_history_loaders_stay_together_under_the_budget(
    app_with: Any, binance: FakeBinanceRest
) -> None:
    async with app_with(
        targets=LOADER,
        binance_rest_url=binance.url,
        binance_rest_weight_per_minute=BUDGET,
        binance_rest_share_refresh_seconds=300,  # every message below is one the test caused
        telemetry_interval_seconds=0.2,
    ) as qm:
        first = await qm.start(history("A", 200))
        await eventually(lambda: len(of(binance, "A")) >= 30, what="the first alone")
        second_started = binance.log[-1].at
        second = await qm.start(history("B", 100))  # long enough to share under load
        shared = await qm.wait_for(first, sharing(2), within=20)
        assert shared["jobs"][0]["rest_weight"]["share"] == BUDGET // 2
        metrics = (await qm.client.get("/metrics")).text
        assert 'binance_rest_weight_budget{market="binance"} 60.0' in metrics
        assert 'binance_rest_loaders{market="binance"} 2.0' in metrics
        assert 'binance_rest_weight_share{market="binance"} 30.0' in metrics
        assert 'binance_rest_share_messages_total{market="binance"} 1.0' in metrics
        both = binance.log[-1].at
        second_done = await qm.wait_for(second, ended, within=40)
        second_ended = of(binance, "B")[-1].at
        alone_again = await qm.wait_for(first, sharing(1), within=20)  # grown back
        assert alone_again["jobs"][0]["rest_weight"]["share"] == BUDGET
        first_done = await qm.wait_for(first, ended, within=40)
    assert first_done["status"] == second_done["status"] == "finished"
    per_window = binance.weight_by_window()
    assert max(per_window.values()) <= BUDGET, per_window
    first_log = of(binance, "A")
    alone = pace(first_log, first_log[0].at + 0.2, second_started)
    assert second_ended > both + 1, "the second loader ended before both ran at their shares"
    together = pace(first_log, both, second_ended)
    assert together < alone * 0.7, (alone, together)  # its share halved: so did its pace
    assert all(entry.status == 200 for entry in binance.log)


async def test_a_429_is_waited_out_as_retry_after_asks_and_shown_as_retrying(
    app_with: Any, binance: FakeBinanceRest
) -> None:
    binance.fail_next(429, retry_after=3)
    async with app_with(
        targets=LOADER, binance_rest_url=binance.url, telemetry_interval_seconds=0.2
    ) as qm:
        queue_id = await qm.start(history("A", 3))
        waiting = await qm.wait_for(queue_id, retrying, within=20)
        done = await qm.wait_for(queue_id, ended, within=20)
    health = waiting["jobs"][0]["health"]
    assert "Binance answered 429 (too many requests)" in health["last_error"]
    assert health["retry_at"] is not None
    refused, retried = binance.log[:2]
    assert refused.status == 429 and retried.status == 200
    assert retried.at - refused.at >= 3
    assert done["status"] == "finished" and done["jobs"][0]["health"]["state"] == "ok"
    assert done["jobs"][0]["records_written"] == 3 * 24


def retrying(queue: dict[str, Any]) -> bool:
    return bool(queue["jobs"][0]["health"]["state"] == "retrying")
