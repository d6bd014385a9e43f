"""A job's REST weight budget: request weights as Binance documents them, the pace of the
token bucket, newer shares only, pauses for 429/418 and for an IP at the whole budget."""

from __future__ import annotations

import asyncio
import time

import pytest

from app.workers.binance.weights import UNKNOWN_WEIGHT, request_weight
from app.workers.weight_budget import WeightBudget

pytestmark = pytest.mark.timeout(10)


@pytest.mark.parametrize(
    ("path", "params", "weight"),
    [
        ("/api/v3/klines", {"limit": 1000}, 2),
        ("/api/v3/aggTrades", {"limit": 1000}, 4),
        ("/api/v3/historicalTrades", {"limit": 1000}, 25),
        ("/api/v3/depth", {"limit": 100}, 5),
        ("/api/v3/depth", {"limit": 101}, 25),
        ("/api/v3/depth", {"limit": 1000}, 50),
        ("/api/v3/depth", {"limit": 5000}, 250),
        ("/api/v3/depth", {}, 5),
        ("/fapi/v1/klines", {"limit": 99}, 1),
        ("/fapi/v1/klines", {"limit": 100}, 2),
        ("/fapi/v1/klines", {"limit": 1000}, 5),
        ("/fapi/v1/klines", {"limit": 1500}, 10),
        ("/fapi/v1/klines", {}, 5),
        ("/fapi/v1/aggTrades", {"limit": 1000}, 20),
        ("/fapi/v1/depth", {"limit": 50}, 2),
        ("/fapi/v1/depth", {"limit": 500}, 10),
        ("/fapi/v1/depth", {"limit": 1000}, 20),
        ("/api/v3/somethingNew", {}, UNKNOWN_WEIGHT),
    ],
)
def test_request_weights_are_binance_s(path: str, params: dict[str, int], weight: int) -> None:
    assert request_weight(path, params) == weight


async def spend_all(budget: WeightBudget, weights: list[int]) -> list[tuple[float, int]]:
    sent = []
    for weight in weights:
        await budget.spend(weight)
        sent.append((time.monotonic(), weight))
    return sent


def busiest_window(sent: list[tuple[float, int]], window: float) -> int:
    """The most weight sent in any window ending at a send (a sliding window)."""
    return max(sum(w for t, w in sent if end - window < t <= end) for end, _ in sent)


async def test_no_window_holds_more_than_the_share() -> None:
    budget = WeightBudget(40, budget=40, window_s=0.5)
    sent = await spend_all(budget, [2] * 60)
    assert busiest_window(sent, 0.5) <= 40
    assert sent[-1][0] - sent[0][0] >= 0.5 * (120 / 40 - 1)
    assert budget.used() <= 40


async def test_concurrent_spenders_share_one_bucket_in_turn() -> None:
    budget = WeightBudget(40, budget=40, window_s=0.5)
    parts = await asyncio.gather(*(spend_all(budget, [2] * 20) for _ in range(3)))
    sent = sorted(entry for part in parts for entry in part)
    assert busiest_window(sent, 0.5) <= 40


async def test_a_newer_share_changes_the_pace_and_an_older_one_does_not() -> None:
    budget = WeightBudget(400, budget=400, window_s=0.5)
    assert not budget.apply(40, 0, budget=400, loaders=10)
    assert budget.apply(40, 2, budget=400, loaders=10)
    assert not budget.apply(400, 1, budget=400, loaders=1)  # a late, older share
    assert (budget.share, budget.loaders, budget.version) == (40, 10, 2)
    sent = await spend_all(budget, [2] * 30)
    assert busiest_window(sent, 0.5) <= 40


async def test_a_smaller_share_wakes_a_waiting_request_with_the_new_pace() -> None:
    budget = WeightBudget(20, budget=20, window_s=1.0)
    await budget.spend(2)  # the bucket (2 of weight) is empty now
    waiting = asyncio.create_task(budget.spend(2))
    await asyncio.sleep(0.01)
    budget.apply(2000, 1, budget=2000, loaders=1)
    start = time.monotonic()
    await asyncio.wait_for(waiting, 1)
    assert time.monotonic() - start < 0.05  # not the 0.11 s the old share needed


async def test_a_pause_holds_every_request() -> None:
    budget = WeightBudget(6000, budget=6000)
    budget.pause_for(0.3)
    start = time.monotonic()
    await asyncio.gather(budget.spend(1), budget.spend(1))
    assert time.monotonic() - start >= 0.3
    assert budget.report() is not None  # it spent


async def test_an_ip_at_the_whole_budget_waits_for_the_next_window() -> None:
    budget = WeightBudget(100, budget=100, window_s=0.5)
    boundary = (time.time() // 0.5 + 1) * 0.5
    budget.note_ip_used(100)
    await budget.spend(1)
    assert time.time() >= boundary  # not before the next window began
    assert budget.ip_used == 100


def test_nothing_to_report_without_a_share_or_a_request() -> None:
    assert WeightBudget(6000, budget=6000).report() is None
    report = WeightBudget(100, budget=200, loaders=2, version=5, assigned=True).report()
    assert report is not None and (report.share, report.loaders, report.used) == (100, 2, 0)
