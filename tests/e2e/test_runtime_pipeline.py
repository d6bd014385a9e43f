"""End to end in embedded mode: a job on the real runtime, launched by the service, seen
live on the WebSocket from starting to finished; a long one stopped through REST."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from tests.fixtures.app import scripted
from tests.fixtures.wsclient import listening
from tests.seed_examples import BASIC


def demo(**request: Any) -> dict[str, Any]:
    return {
        "command": ["python", "-m", "app.workers", "demo-job"],
        "env": {"DEMO_JSON": orjson.dumps(request).decode()},
    }


def statuses(messages: list[dict[str, Any]], queue_id: str) -> list[str]:
    return [
        m["event"]
        for m in messages
        if m.get("queue_id") == queue_id
        and m["event"].startswith("queue.")
        and m["event"] != "queue.updated"
    ]


async def test_a_runtime_job_is_seen_live_from_starting_to_finished(served_with: Any) -> None:
    targets = {
        "loader-producer": demo(records=30, batch=10, interval_ms=150),
        "arango-connector": scripted("exit", "0"),
    }
    async with served_with(targets=targets, telemetry_interval_seconds=0.1) as served:
        await served.fanout_ready()
        await served.dispatcher_ready()
        async with listening(served.ws_url) as ws, httpx.AsyncClient(base_url=served.url) as http:
            queue_id = (await http.post("/queues/start", json=BASIC)).json()["data"]["queue_id"]
            await ws.wait_for(
                lambda m: (
                    "queue.finished" in statuses(m, queue_id)
                    and any(t["status"] == "finished" for t in ws.events("job.telemetry", queue_id))
                ),
                within=30,
            )  # the exit and the last report race: wait for both
            telemetry = ws.events("job.telemetry", queue_id)
            seen = [t["status"] for t in telemetry]
            assert seen[0] == "starting" and "loading" in seen and seen[-1] == "finished"
            assert telemetry[-1]["records_written"] == 30
            assert [t["seq"] for t in telemetry] == sorted({t["seq"] for t in telemetry})
            assert statuses(ws.messages, queue_id) == [
                "queue.pending",
                "queue.starting",
                "queue.loading",
                "queue.finished",
            ]
            queue = (await http.get(f"/queues/{queue_id}")).json()["data"]
            assert queue["status"] == "finished" and queue["records_written"] == 30


async def test_stop_makes_a_long_runtime_job_exit_as_stopped(served_with: Any) -> None:
    targets = {
        "loader-producer": demo(records=10**6, batch=10, interval_ms=100),
        "arango-connector": scripted("sleep", "60"),
    }
    async with served_with(
        targets=targets, telemetry_interval_seconds=0.1, job_stop_grace_seconds=10
    ) as served:
        await served.fanout_ready()
        await served.dispatcher_ready()
        async with listening(served.ws_url) as ws, httpx.AsyncClient(base_url=served.url) as http:
            queue_id = (await http.post("/queues/start", json=BASIC)).json()["data"]["queue_id"]
            await ws.wait_for(
                lambda m: any(
                    t["status"] == "loading" and t["records_written"]
                    for t in ws.events("job.telemetry", queue_id)
                ),
                within=30,
            )
            await http.post("/queues/stop", params={"queue_id": queue_id})
            await ws.wait_for(lambda m: "queue.stopped" in statuses(m, queue_id), within=30)
            loader = (await http.get(f"/queues/{queue_id}")).json()["data"]["jobs"][0]
            assert loader["status"] == "stopped"
            assert not loader["error_message"], "the job stopped cleanly, it was not killed"
            assert ws.events("job.telemetry", queue_id)[-1]["status"] == "stopped"
