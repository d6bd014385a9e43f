"""Probes answer in time (a hung store is a 503 within 2 s) and metrics count what happened."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from tests.fixtures.app import scripted
from tests.seed_examples import BASIC

QUICK = {"loader-producer": scripted("exit", "0"), "arango-connector": scripted("exit", "1")}


async def test_probes_answer_when_all_is_well(app_with: Any) -> None:
    async with app_with() as qm:
        for probe in ("live", "startup", "ready"):
            response = await qm.client.get(f"/health/{probe}")
            assert response.status_code == 200 and response.json()["status"] == "success"
        assert (await qm.client.get("/health/ready")).json()["data"]["store"] == "ok"


async def test_startup_probe_fails_until_initialised(app_with: Any) -> None:
    async with app_with() as qm:
        qm.state.started = False
        assert (await qm.client.get("/health/startup")).status_code == 503


async def test_locked_store_gives_503_in_time_and_recovers(app_with: Any) -> None:
    async with app_with() as qm:
        locker = sqlite3.connect(qm.state.settings.database_path, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            started = time.monotonic()
            ready = await qm.client.get("/health/ready")
            assert ready.status_code == 503 and time.monotonic() - started < 2.0
            assert ready.json()["message"] == "not ready: store unavailable"
            start = await qm.client.post("/queues/start", json=BASIC)
            assert start.status_code == 503 and "locked" in start.json()["message"]
        finally:
            locker.rollback()
            locker.close()
        assert (await qm.client.get("/health/ready")).status_code == 200


async def test_metrics_count_requests_queues_and_jobs(app_with: Any) -> None:
    async with app_with(targets=QUICK) as qm:
        queue_id = await qm.start(BASIC)
        await qm.wait_for(queue_id, lambda q: q["status"] == "error")
        await qm.client.get("/queues/unknown-id")
        text = (await qm.client.get("/metrics")).text
        expected = [
            'http_requests_total{method="GET",route="/queues/{queue_id}",status="404"} 1.0',
            'http_requests_total{method="POST",route="/queues/start",status="200"} 1.0',
            'queue_requests_total{action="start"} 1.0',
            'queues{status="error"} 1.0',
            'jobs_launched_total{target="loader-producer"} 1.0',
            'jobs_failed_total{target="arango-connector"} 1.0',
            "http_request_duration_seconds_bucket",
        ]
        missing = [line for line in expected if line not in text]
        assert not missing, missing
