"""Health end to end on the real embedded parts: real jobs, the real dispatcher, SQLite.

Must hold: a history loader pointed at a closed port is `retrying` (attempt, the endpoint
and the error) within seconds, its queue says so, and it ends `error` within
HISTORY_GIVE_UP_SECONDS naming the endpoint and the cause; while one job has failed and
another still runs, the queue is `degraded` and its error_message names the failed job.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from app.bus.embedded import free_port
from tests.fixtures.app import scripted
from tests.seed_examples import BASIC, BASIC_NO_RETRY

pytestmark = pytest.mark.timeout(90)
GIVE_UP = 4.0


def loader(queue: dict[str, Any]) -> dict[str, Any]:
    return next(job for job in queue["jobs"] if job["target"] == "loader-producer")


async def test_a_loader_that_cannot_reach_binance_is_retrying_then_gives_up_in_time(
    app_with: Any,
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    async with app_with(
        binance_rest_url=closed,
        history_give_up_seconds=GIVE_UP,
        telemetry_interval_seconds=0.5,
    ) as qm:
        queue_id = await qm.start(BASIC_NO_RETRY)  # the job's own retries, then its end
        retrying = await qm.wait_for(
            queue_id, lambda q: loader(q)["health"]["state"] == "retrying", within=20
        )
        first_seen = time.monotonic()
        health = loader(retrying)["health"]
        assert health["attempt"] >= 1 and health["max_attempts"] == 20, health
        assert f"GET {closed}/api/v3/klines" in health["last_error"], health
        assert "ConnectError" in health["last_error"] and health["retry_at"], health
        assert retrying["health"]["state"] == "retrying", retrying["health"]
        assert retrying["health"]["job"] == loader(retrying)["name"]
        assert retrying["status"] == "loading"
        failed = await qm.wait_for(
            queue_id, lambda q: loader(q)["status"] == "error", within=GIVE_UP + 10
        )
        assert time.monotonic() - first_seen < GIVE_UP + 5
        message = loader(failed)["error_message"]
        assert f"gave up on GET {closed}/api/v3/klines after failing for 4 s" in message
        assert "ConnectError" in message
        assert loader(failed)["health"]["state"] == "ok"  # ended: its status says the rest


async def test_a_failed_job_beside_a_running_one_makes_the_queue_degraded(app_with: Any) -> None:
    targets = {
        "loader-producer": scripted("exit", "3"),
        "arango-connector": scripted("sleep", "30"),
    }
    async with app_with(targets=targets) as qm:
        queue_id = await qm.start(BASIC)
        queue = await qm.wait_for(queue_id, lambda q: q["health"]["state"] == "degraded")
        assert queue["status"] == "starting"  # the other job is still starting
        assert queue["health"]["job"] == loader(queue)["name"]
        assert queue["health"]["reason"].startswith("loader-producer (api_candles_1m) failed")
        assert queue["error_message"].startswith("loader-producer (api_candles_1m): exit code 3")
        await qm.client.post("/queues/stop", params={"queue_id": queue_id})
        ended = await qm.wait_for(queue_id, lambda q: q["status"] == "error")
        assert ended["health"]["state"] == "ok"
