"""Refuse what cannot run (issue 11, item 7), on the real app: a request whose target the
active launcher cannot run gets 422 naming `requests[i].target` and how to register it,
by REST and by the Kafka `start` command, and nothing is created or launched; the same
pipeline starts once TARGETS_FILE gives the target a command."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson

from app.bus.kafka import KafkaBus
from app.launchers.targets import (
    TargetSpec,
    default_registry,
    not_runnable_in_cluster,
    not_runnable_locally,
)
from app.models.queries import QueueFilter
from tests.fixtures.app import scripted
from tests.fixtures.eventually import eventually
from tests.fixtures.kube import KubeEmulator
from tests.fixtures.metrics import sample
from tests.integration.test_cluster_mode import kubeconfig  # noqa: F401 (a fixture)
from tests.seed_examples import HISTORICAL

RUNS = {"loader-producer": scripted("sleep", "30"), "arango-connector": scripted("sleep", "30")}


def jobs_launched(data_dir: Path) -> list[Path]:
    return list((data_dir / "jobs").rglob("*.log"))


async def test_seed_002_history_pipeline_is_refused_naming_the_unrunnable_targets(
    app_with: Any,
) -> None:
    async with app_with(targets=RUNS) as qm:
        response = await qm.client.post("/queues/start", json=HISTORICAL)
        assert response.status_code == 422, response.text
        body = response.json()
        assert body["status"] == "error"
        problems = {p["field"]: p["reason"] for p in body["data"]}
        assert set(problems) == {"requests[4].target", "requests[5].target"}
        assert problems["requests[4].target"].startswith("graph-builder has no command")
        assert '{"gnn-trainer": {"command": ["python", "-m"' in problems["requests[5].target"]
        assert "requests[4].target: graph-builder" in body["message"]
        assert (await qm.client.get("/queues")).headers["X-Total-Count"] == "0"
        assert jobs_launched(qm.state.settings.data_dir) == []


async def test_the_kafka_start_command_is_refused_the_same_way(app_with: Any) -> None:
    async with app_with(targets=RUNS) as qm:
        settings = qm.state.settings
        command = {
            "type": "command",
            "command": "start",
            "command_id": str(uuid.uuid4()),
            "payload": HISTORICAL,
        }
        bus = KafkaBus(settings)
        await bus.start()
        try:
            await bus.send(settings.queue_control_topic, "command", orjson.dumps(command))
        finally:
            await bus.stop()
        await eventually(
            lambda: sample(qm.state.metrics, "commands_total", command="start", result="rejected"),
            lambda count: count == 1,
            within=20,
            what="the start command refused",
        )
        assert (await qm.state.queues.page(QueueFilter())).total == 0
        assert jobs_launched(settings.data_dir) == []


async def test_the_same_pipeline_starts_once_targets_file_gives_them_commands(
    app_with: Any,
) -> None:
    ml = {"graph-builder": scripted("sleep", "30"), "gnn-trainer": scripted("sleep", "30")}
    async with app_with(targets={**RUNS, **ml}) as qm:
        queue_id = await qm.start(HISTORICAL)
        queue = await qm.queue(queue_id)
        statuses = [job["status"] for job in queue["jobs"]]
        assert statuses == ["starting"] * 4 + ["pending"] * 2  # graph and GNN wait for input
        assert queue["jobs"][4]["waiting_for"].startswith("waiting for arango-connector")


def test_in_a_cluster_a_target_needs_an_image_or_a_command() -> None:
    registry = default_registry()
    assert all(not_runnable_in_cluster(t, spec) is None for t, spec in registry.items())
    assert not_runnable_locally("graph-builder", registry["graph-builder"]) is not None
    reason = not_runnable_in_cluster("visualizer", TargetSpec())
    assert reason is not None and '{"visualizer": {"image": "' in reason
    assert "TARGETS_FILE" in reason


async def test_on_kubernetes_a_target_without_image_is_refused_and_no_job_created(
    app_with: Any,
    kube: KubeEmulator,
    kubeconfig: Path,  # noqa: F811
) -> None:
    cluster = {"job_launcher": "kubernetes", "k8s_namespace": kube.namespace}
    async with app_with(targets={"visualizer": {}}, kubeconfig=kubeconfig, **cluster) as qm:
        body = {
            "symbol": "BTCUSDT",
            "time_range": "2024-06-01:2024-06-01",
            "requests": [
                {"target": "visualizer", "type": "graph_metrics_stream", "source": "btc_graph"}
            ],
        }
        response = await qm.client.post("/queues/start", json=body)
        assert response.status_code == 422, response.text
        (problem,) = response.json()["data"]
        assert problem["field"] == "requests[0].target"
        assert problem["reason"].startswith("visualizer has neither an image nor a command")
        assert kube.job_names() == []
        refused_ml = await qm.client.post("/queues/start", json=HISTORICAL)
        assert refused_ml.status_code == 200, "in a cluster the ML targets have images"
