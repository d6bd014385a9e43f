"""Crash safety of pipelines (issue 16, item 7): the real service SIGKILLed mid-pipeline,
restarted on the same DATA_DIR. Must hold: the jobs that waited start once their inputs
are ready and a slot is free, nothing that ran runs again, the pipeline completes once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from app.models.examples import HISTORICAL
from tests.fixtures.eventually import eventually
from tests.fixtures.service import own_env, service
from tests.fixtures.timed_jobs import runs_of, timed_targets

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
HELD = "waiting for a slot: 0 of 0 graph-builder jobs running"


async def queue_of(client: httpx.AsyncClient, queue_id: str) -> dict[str, Any]:
    answer = await client.get(f"/queues/{queue_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["data"])


def jobs_of(queue: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {job["target"] + ":" + job["type"]: job for job in queue["jobs"]}


async def test_sigkill_mid_pipeline_then_restart_completes_the_pipeline_once(
    tmp_path: Path, broker: Any
) -> None:
    log = tmp_path / "runs.log"
    env = own_env(tmp_path, broker.bootstrap, timed_targets(log, seconds=0.2))
    with service({**env, "TARGET_LIMITS": "graph-builder=0"}, tmp_path / "first.log") as first:
        async with httpx.AsyncClient(base_url=first.url, timeout=30) as client:
            started = await client.post("/queues/start", json=HISTORICAL)
            assert started.status_code == 200, started.text
            queue_id = started.json()["data"]["queue_id"]
            held = await eventually(
                lambda: queue_of(client, queue_id),
                lambda q: jobs_of(q)["graph-builder:gnn_graph"]["waiting_for"] == HELD,
                within=60,
                what="the graph-builder held for a slot after both connectors finished",
            )
            first.kill()
    jobs = jobs_of(held)
    upstream = [job for key, job in jobs.items() if not key.startswith(("graph", "gnn"))]
    assert [job["status"] for job in upstream] == ["finished"] * 4
    assert jobs["gnn-trainer:gnn_train"]["waiting_for"] == (
        "waiting for graph-builder · gnn_graph to finish"
    )
    before = runs_of(log)
    assert len(before) == 4
    with service(env, tmp_path / "second.log") as second:
        async with httpx.AsyncClient(base_url=second.url, timeout=30) as client:
            done = await eventually(
                lambda: queue_of(client, queue_id),
                lambda q: q["status"] in ("finished", "error", "stopped"),
                within=60,
                what="the pipeline completed after the restart",
            )
    assert done["status"] == "finished", done
    runs = runs_of(log)  # asserts that no job started twice
    assert len(runs) == 6 and all("end" in run for run in runs.values())
    assert {name: run for name, run in runs.items() if name in before} == before
    builder, trainer = (
        jobs_of(done)["graph-builder:gnn_graph"],
        jobs_of(done)["gnn-trainer:gnn_train"],
    )
    assert runs[trainer["name"]]["start"] >= runs[builder["name"]]["end"]
