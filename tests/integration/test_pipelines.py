"""Pipelines run in order (issue 16): the real app on SQLite, the session broker and local
jobs; every target a test job registered through TARGETS_FILE that writes when it ran, so
order and concurrency are measured from the jobs themselves."""

from __future__ import annotations

import copy
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.bus.kafka import KafkaBus
from app.models.examples import HISTORICAL, REALTIME
from app.models.queries import QueueFilter
from tests.fixtures.eventually import eventually
from tests.fixtures.kafka_reader import read_topic
from tests.fixtures.metrics import sample
from tests.fixtures.timed_jobs import most_at_once, runs_of, timed_targets

pytestmark = pytest.mark.timeout(120)
DONE = {"finished", "stopped", "error"}


def job_named(queue: dict[str, Any], target: str, job_type: str) -> dict[str, Any]:
    return next(j for j in queue["jobs"] if (j["target"], j["type"]) == (target, job_type))


def ended(queue: dict[str, Any]) -> bool:
    return queue["status"] in DONE


async def test_the_historical_pipeline_runs_graph_builder_after_both_connectors_then_the_trainer(
    app_with: Any, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    async with app_with(targets=timed_targets(log)) as qm:
        queue_id = await qm.start(HISTORICAL)
        started = await qm.queue(queue_id)
        builder = job_named(started, "graph-builder", "gnn_graph")
        assert builder["status"] == "pending"
        assert builder["waiting_for"] == (
            "waiting for arango-connector · api_candles_5m and arango-connector · api_trades"
            " to finish"
        )
        assert len(builder["depends_on"]) == 2
        queue = await qm.wait_for(queue_id, ended, within=60)
    assert queue["status"] == "finished", queue
    runs = runs_of(log)
    names = {(j["target"], j["type"]): j["name"] for j in queue["jobs"]}
    connectors_end = max(
        runs[names["arango-connector", kind]]["end"] for kind in ("api_candles_5m", "api_trades")
    )
    builder_run = runs[names["graph-builder", "gnn_graph"]]
    assert builder_run["start"] >= connectors_end
    assert runs[names["gnn-trainer", "gnn_train"]]["start"] >= builder_run["end"]
    assert all(job["waiting_for"] is None for job in queue["jobs"])


def demo_connector(records: int) -> dict[str, Any]:
    """A connector that reports records as it goes (the demo job through the runtime)."""
    demo = {"records": records, "interval_ms": 100, "batch": 5}
    return {
        "command": ["python", "-m", "app.workers", "demo-job"],
        "env": {"DEMO_JSON": orjson.dumps(demo).decode()},
    }


async def test_the_realtime_pipeline_starts_graph_builder_once_the_connectors_load_records(
    app_with: Any, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    targets = {**timed_targets(log, seconds=30), "arango-connector": demo_connector(2000)}
    async with app_with(targets=targets, telemetry_interval_seconds=0.2) as qm:
        queue_id = await qm.start(REALTIME)
        queue = await qm.wait_for(
            queue_id,
            lambda q: job_named(q, "graph-builder", "realtime_graph")["status"] != "pending",
            within=60,
        )
        builder = job_named(queue, "graph-builder", "realtime_graph")
        assert builder["status"] in ("starting", "loading"), builder
        for kind in ("ws_candles_1m", "ws_trades"):
            connector = job_named(queue, "arango-connector", kind)
            assert connector["status"] == "loading" and connector["records_written"] > 0
        for name in ("gnn-trainer", "visualizer"):
            waiting = next(j for j in queue["jobs"] if j["target"] == name)
            assert waiting["status"] != "pending" or "realtime_graph" in waiting["waiting_for"]
        await qm.client.post("/queues/stop", params={"queue_id": queue_id})
        await qm.wait_for(queue_id, ended, within=60)


async def test_a_failed_upstream_skips_its_dependents_while_an_independent_branch_finishes(
    app_with: Any, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    body = copy.deepcopy(HISTORICAL)
    body["requests"].append(
        {"target": "visualizer", "type": "graph_metrics_stream", "source": "btc_candles_5m_2024_06"}
    )
    body["requests"][4]["collection_inputs"] = ["btc_trades_2024_06"]
    async with app_with(targets=timed_targets(log, failing="api_trades")) as qm:
        queue_id = await qm.start(body)
        queue = await qm.wait_for(queue_id, ended, within=60)
        skipped = sample(qm.state.metrics, "jobs_skipped_total", target="graph-builder")
        events = await read_topic(
            qm.state.settings.kafka_bootstrap_servers or "",
            qm.state.settings.queue_events_topic,
            lambda got: any(e.value["status"] == "error" for e in got),
            within=20,
        )
    assert queue["status"] == "error" and skipped == 1
    said = [job_named(e.value["data"], "graph-builder", "gnn_graph") for e in events]
    assert said[0]["waiting_for"] == "waiting for arango-connector · api_trades to finish"
    assert said[-1]["status"] == "skipped", "queue-events carry the skip"
    builder = job_named(queue, "graph-builder", "gnn_graph")
    trainer = job_named(queue, "gnn-trainer", "gnn_train")
    assert builder["status"] == "skipped"
    assert builder["error_message"] == "skipped: arango-connector · api_trades failed"
    assert trainer["status"] == "skipped"
    assert trainer["error_message"] == "skipped: graph-builder · gnn_graph was skipped"
    assert job_named(queue, "visualizer", "graph_metrics_stream")["status"] == "finished"
    runs = runs_of(log)
    assert builder["name"] not in runs and trainer["name"] not in runs


@pytest.mark.parametrize(
    ("depends_on", "reason"),
    [([7], "7 is not another request (0..5)"), ([5], "forms a cycle")],
)
async def test_a_cycle_or_an_index_out_of_range_is_422_naming_the_field(
    app_with: Any, tmp_path: Path, depends_on: list[int], reason: str
) -> None:
    body = copy.deepcopy(HISTORICAL)
    body["requests"][2]["depends_on"] = depends_on
    async with app_with(targets=timed_targets(tmp_path / "runs.log")) as qm:
        answer = await qm.client.post("/queues/start", json=body)
        assert answer.status_code == 422, answer.text
        problems = answer.json()["data"]
        assert any(
            p["field"] == "requests[2].depends_on" and reason in p["reason"] for p in problems
        ), problems
        assert (await qm.state.queues.page(QueueFilter())).total == 0


async def test_a_kafka_start_command_with_depends_on_runs_in_that_order(
    app_with: Any, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    payload = copy.deepcopy(HISTORICAL)
    payload["requests"] = payload["requests"][:4]
    payload["requests"][0]["depends_on"] = [1]  # candles after trades
    payload["requests"][2]["depends_on"] = [0]  # and their connector after them
    async with app_with(targets=timed_targets(log)) as qm:
        command_id = str(uuid.uuid4())
        command = {"type": "command", "command": "start", "command_id": command_id}
        settings = qm.state.settings
        bus = KafkaBus(settings)
        await bus.start()
        try:
            message = orjson.dumps({**command, "payload": payload})
            await bus.send(settings.queue_control_topic, command_id, message)
        finally:
            await bus.stop()
        page = await eventually(
            lambda: qm.state.queues.page(QueueFilter()),
            lambda found: found.total == 1,
            within=30,
            what="the queue the command started",
        )
        queue_id = page.items[0].id
        queue = await qm.wait_for(queue_id, ended, within=60)
    assert queue["status"] == "finished"
    names = [job["name"] for job in queue["jobs"]]
    assert queue["jobs"][0]["depends_on"] == [names[1]]
    assert queue["jobs"][2]["depends_on"] == [names[0]]
    runs = runs_of(log)
    assert runs[names[0]]["start"] >= runs[names[1]]["end"]
    assert runs[names[2]]["start"] >= runs[names[0]]["end"]


async def test_fifty_queues_under_max_running_jobs_5_never_run_more_than_5_and_all_finish(
    app_with: Any, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    body = {"symbol": "BTCUSDT", "type": "api", "time_range": "2024-01-01:2024-01-03"}
    async with app_with(targets=timed_targets(log, seconds=0.2), max_running_jobs=5) as qm:
        ids = [await qm.start(body) for _ in range(50)]
        for queue_id in ids:
            queue = await qm.wait_for(queue_id, ended, within=120)
            assert queue["status"] == "finished", queue
        metrics = (await qm.client.get("/metrics")).text
    runs = runs_of(log)
    assert len(runs) == 100 and all("end" in run for run in runs.values())
    assert 1 < most_at_once(runs) <= 5
    assert 'admission_slots_limit{scope="all"} 5.0' in metrics
