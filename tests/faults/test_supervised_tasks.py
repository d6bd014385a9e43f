"""Every long-lived task runs under the Supervisor, on the real app (broker, SQLite).

A fault injected at a task's boundary (the supervisor's test hook: the running task is
cancelled and its run fails with the error, as if the work had raised it) must: be
counted in `background_task_restarts_total{task}`, flip `/health/ready` to 503 naming the
task, restart the task so that it works again (telemetry is applied after the
dispatcher's restart), and readiness must recover once the task has run
TASK_HEALTHY_SECONDS. Shutdown leaves no asyncio task behind.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest

from app.bus.kafka import KafkaBus
from app.state import AppState
from tests.fixtures.app import scripted
from tests.fixtures.eventually import eventually
from tests.seed_examples import BASIC

pytestmark = pytest.mark.timeout(90)
SLOW = {"loader-producer": scripted("sleep", "60"), "arango-connector": scripted("sleep", "60")}
TASKS = {
    "dispatcher",
    "fanout",
    "outbox",
    "lag-recorder",
    "topic-checker",
    "heartbeat",
    "ws-send-watchdog",
}


async def readiness(client: httpx.AsyncClient, status: int) -> dict[str, Any]:
    """Poll /health/ready until it answers `status` (bounded); its body."""
    response = await eventually(
        lambda: client.get("/health/ready"),
        lambda answer: answer.status_code == status,
        within=20,
        what=f"/health/ready {status}",
    )
    return dict(response.json())


async def send_report(state: AppState, queue_id: str, job: str, records: int) -> None:
    report = {
        "type": "telemetry",
        "queue_id": queue_id,
        "job": job,
        "status": "loading",
        "records_written": records,
        "seq": records,
    }
    bus = KafkaBus(state.settings)
    await bus.start()
    try:
        await bus.send(state.settings.queue_control_topic, queue_id, orjson.dumps(report))
    finally:
        await bus.stop()


async def test_a_failing_task_is_counted_restarted_and_flips_readiness(app_with: Any) -> None:
    async with app_with(targets=SLOW, task_healthy_seconds=1.0) as qm:
        await asyncio.wait_for(qm.state.plane.dispatcher.assigned.wait(), 30)
        body = await readiness(qm.client, 200)
        assert {f"task:{name}" for name in TASKS} <= set(body["data"]), body
        queue_id = await qm.start(BASIC)
        job = (await qm.queue(queue_id))["jobs"][0]["name"]

        qm.state.supervisor.inject_fault("dispatcher", RuntimeError("injected at the boundary"))
        down = await readiness(qm.client, 503)
        assert "task:dispatcher" in down["message"], down
        assert "RuntimeError: injected at the boundary" in down["data"]["task:dispatcher"]
        metrics = (await qm.client.get("/metrics")).text
        assert 'background_task_restarts_total{task="dispatcher"} 1.0' in metrics

        await send_report(qm.state, queue_id, job, records=11)
        await qm.wait_for(queue_id, lambda q: q["jobs"][0]["records_written"] == 11, within=30)
        up = await readiness(qm.client, 200)
        assert up["data"]["task:dispatcher"] == "ok"
        assert qm.state.supervisor.restarts("dispatcher") == 1
    leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not leftover, f"tasks left after shutdown: {leftover}"


async def test_the_lag_recorder_fails_alone(app_with: Any) -> None:
    """A failure in the lag recorder (it once ended the dispatcher with IllegalStateError)
    restarts the lag recorder only."""
    async with app_with(targets=SLOW, task_healthy_seconds=1.0) as qm:
        await asyncio.wait_for(qm.state.plane.dispatcher.assigned.wait(), 30)
        qm.state.supervisor.inject_fault(
            "lag-recorder", AssertionError("Partition is not assigned")
        )
        down = await readiness(qm.client, 503)
        assert "task:lag-recorder" in down["message"] and "task:dispatcher" not in down["message"]
        assert qm.state.supervisor.restarts("dispatcher") == 0
        await readiness(qm.client, 200)
