"""Retries with resume through the real service: real job processes (the Binance history
loader against the local Binance REST server, scripted jobs), SQLite, the embedded broker,
test targets registered through TARGETS_FILE."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml  # type: ignore[import-untyped]

from app.bus.kafka import KafkaBus
from app.errors import QueueNotFound
from app.models.attempts import Attempt
from app.models.queues import QueueCreate, QueueState, utcnow
from app.models.status import Status
from app.services.changes import QueueChange
from app.services.pipeline import new_queue
from app.services.queue_service import COMMAND_NAMESPACE, QueueService
from app.store.sqlite import SqliteQueueStore
from app.workers.binance.timerange import parse_instant
from tests.fakes.binance_rest import FakeBinanceRest
from tests.fixtures.app import Running, running_app, scripted
from tests.fixtures.documents import table_rows
from tests.fixtures.eventually import eventually
from tests.fixtures.kafka_reader import read_topic
from tests.fixtures.kube import KubeEmulator
from tests.fixtures.metrics import sample
from tests.seed_examples import BASIC

pytestmark = pytest.mark.timeout(120)
LOADER = {"loader-producer": {"command": ["python", "-m", "app.workers", "loader-producer"]}}
CONNECTOR = ["python", "-m", "app.workers", "arango-connector"]
PIPELINE = {
    **LOADER,
    "arango-connector": {"command": CONNECTOR, "env": {"CONNECTOR_POLL_MS": "50"}},
}
QUICK = {"limit": 2, "backoff_seconds": 1, "factor": 1, "max_backoff_seconds": 1}
DAY_MINUTES = 1440


def candles(retry: dict[str, Any]) -> dict[str, Any]:
    """Two days of minute candles of one symbol (three pages: 1000, 1000, 880 rows), loaded
    and copied into a collection."""
    kind = "api_candles_1m"
    loader = {"target": "loader-producer", "type": kind, "retry": retry}
    connector = {"target": "arango-connector", "type": kind, "collection": "btc_retried"}
    time_range = "2024-06-01:2024-06-02"
    return {"symbol": "BTCUSDT", "time_range": time_range, "requests": [loader, connector]}


def one_job(retry: dict[str, Any]) -> dict[str, Any]:
    """BASIC with only its loader (a target of TARGETS_FILE), with a retry policy."""
    loader = {"target": "loader-producer", "type": "api_candles_1m", "retry": retry}
    return {**BASIC, "requests": [loader]}


def watch(qm: Running) -> list[QueueState]:
    """Every stored version of every queue, as the change feed announces it."""
    seen: list[QueueState] = []

    async def keep(change: QueueChange) -> None:
        seen.append(change.queue.model_copy(deep=True))

    qm.state.queues.feed.subscribe(keep)
    return seen


def ended(queue: dict[str, Any]) -> bool:
    return queue["status"] in ("finished", "stopped", "error")


async def test_a_loader_failing_once_is_retried_and_resumes_after_its_stored_timestamp(
    app_with: Any, binance: FakeBinanceRest
) -> None:
    binance.hold_after = 2  # two pages answered, the third waits: then it is refused
    async with app_with(
        targets=PIPELINE, binance_rest_url=binance.url, telemetry_interval_seconds=0.2
    ) as qm:
        versions = watch(qm)
        queue_id = await qm.start(candles(QUICK))
        await eventually(lambda: binance.holding.is_set(), what="the loader between pages")
        await qm.wait_for(  # its resume point is stored before the attempt fails
            queue_id, lambda q: q["jobs"][0]["last_loaded_timestamp"] is not None, within=20
        )
        binance.fail_next(400)
        binance.hold_after = None
        binance.release.set()
        done = await qm.wait_for(queue_id, ended, within=60)
        metrics = qm.state.metrics
    assert done["status"] == "finished", done
    job = done["jobs"][0]
    assert job["attempt"] == 2
    assert [(a["attempt"], a["status"]) for a in job["attempts"]] == [
        (1, "error"),
        (2, "finished"),
    ]
    assert "Binance answered 400" in job["attempts"][0]["error_message"]
    waiting = next(v.jobs[0] for v in versions if v.jobs[0].not_before)
    assert waiting.status == "pending" and waiting.health.state == "retrying"
    assert waiting.health.attempt == 1 and waiting.health.max_attempts == 3
    assert waiting.waiting_for is not None
    assert waiting.waiting_for.startswith("retrying in 1 s (attempt 2 of 3): ")
    resumed_from = parse_instant(str(waiting.last_loaded_timestamp))
    refused = next(i for i, entry in enumerate(binance.log) if entry.status == 400)
    second = binance.log[refused + 1]
    assert int(second.params["startTime"]) == resumed_from + 1
    assert int(second.params["startTime"]) > int(binance.log[refused].params["startTime"]) - 1
    topic = job["kafka_topic"]
    rows = await read_topic(
        qm.state.settings.kafka_bootstrap_servers or "",
        topic,
        lambda got: len(got) >= 2 * DAY_MINUTES,
        within=20,
    )
    opens = [row.value["open_time"] for row in rows]
    assert len(opens) == len(set(opens)) == 2 * DAY_MINUTES, "every candle once, none twice"
    assert job["records_written"] == 2 * DAY_MINUTES
    connector = done["jobs"][1]
    assert (connector["status"], connector["attempt"]) == ("finished", 1), "it waited"
    stored = table_rows(qm.state.settings.database_path, "btc_retried")
    assert len(stored) == 2 * DAY_MINUTES
    assert sample(metrics, "job_retries_total", target="loader-producer") == 1


async def test_a_stop_during_the_wait_ends_the_job_stopped_and_nothing_retries(
    app_with: Any,
) -> None:
    slow = {"limit": 3, "backoff_seconds": 600, "factor": 1, "max_backoff_seconds": 600}
    async with app_with(targets={"loader-producer": scripted("exit", "1")}) as qm:
        queue_id = await qm.start(one_job(slow))
        waiting = await qm.wait_for(queue_id, lambda q: q["jobs"][0]["waiting_for"] is not None)
        assert waiting["status"] == "pending" and waiting["health"]["state"] == "retrying"
        assert waiting["jobs"][0]["not_before"] is not None
        response = await qm.client.post("/queues/stop", params={"queue_id": queue_id})
        assert response.status_code == 200, response.text
        stopped = await qm.wait_for(queue_id, ended)
        launched = sample(qm.state.metrics, "jobs_launched_total", target="loader-producer")
        await qm.state.jobs.run_pass()  # the scheduler's look after the stop
        after = await qm.queue(queue_id)
        assert sample(qm.state.metrics, "jobs_launched_total", target="loader-producer") == (
            launched
        )
    job = stopped["jobs"][0]
    assert (stopped["status"], job["status"], job["waiting_for"]) == ("stopped", "stopped", None)
    assert [(a["attempt"], a["status"]) for a in job["attempts"]] == [(1, "error")]
    assert after == stopped


async def test_a_bad_configuration_is_not_retried(app_with: Any) -> None:
    async with app_with(targets={"loader-producer": scripted("exit", "2")}) as qm:
        queue_id = await qm.start(one_job(QUICK))
        done = await qm.wait_for(queue_id, ended)
        assert sample(qm.state.metrics, "job_retries_total", target="loader-producer") == 0
    job = done["jobs"][0]
    assert (done["status"], job["attempt"]) == ("error", 1)
    assert "exit code 2 (bad configuration)" in job["error_message"]
    assert [a["status"] for a in job["attempts"]] == ["error"]


async def test_used_up_attempts_end_in_error_with_every_attempt_listed(app_with: Any) -> None:
    quick = {**QUICK, "backoff_seconds": 0, "max_backoff_seconds": 0}
    async with app_with(targets={"loader-producer": scripted("exit", "1")}) as qm:
        versions = watch(qm)
        queue_id = await qm.start(one_job(quick))
        done = await qm.wait_for(queue_id, ended, within=30)
        logs = await qm.client.get(f"/queues/{queue_id}/logs", params={"job": "loader-producer"})
        retries = sample(qm.state.metrics, "job_retries_total", target="loader-producer")
        events = await read_topic(
            qm.state.settings.kafka_bootstrap_servers or "",
            qm.state.settings.queue_events_topic,
            lambda got: any(len(e.value["data"]["jobs"][0]["attempts"]) == 3 for e in got),
            within=20,
        )
    job = done["jobs"][0]
    assert (done["status"], job["status"], job["attempt"]) == ("error", "error", 3)
    assert [(a["attempt"], a["status"]) for a in job["attempts"]] == [
        (1, "error"),
        (2, "error"),
        (3, "error"),
    ]
    assert all("exit code 1" in str(a["error_message"]) for a in job["attempts"])
    assert retries == 2
    sentences = [e.value["data"]["jobs"][0]["waiting_for"] for e in events]
    for upcoming in (2, 3):
        said = f"retrying in 0 s (attempt {upcoming} of 3): exit code 1 (failed); last output:"
        assert any(str(w).startswith(said) for w in sentences), sentences
    assert not any(v.status == "error" for v in versions[:-1]), "never error while retrying"
    assert logs.status_code == 200, logs.text
    pid_lines = [line for line in logs.json()["data"]["lines"] if "scripted job" in line]
    assert len(pid_lines) == 1, "the log of the last attempt (its own file)"
    jobs_dir = qm.state.settings.jobs_dir / queue_id
    name = job["name"]
    assert sorted(p.name for p in jobs_dir.glob("*.log")) == [
        f"{name}-a2.log",
        f"{name}-a3.log",
        f"{name}.log",
    ]


async def test_a_start_command_on_kafka_carries_the_retry_policy(served_with: Any) -> None:
    async with served_with(targets={"loader-producer": scripted("exit", "1")}) as served:
        await served.dispatcher_ready()
        body = one_job({**QUICK, "limit": 1, "backoff_seconds": 0})
        command_id = str(uuid.uuid4())
        command = {"type": "command", "command": "start", "command_id": command_id}
        bus = KafkaBus(served.state.settings)
        await bus.start()
        try:
            message = orjson.dumps({**command, "payload": body})
            await bus.send(served.state.settings.queue_control_topic, "command", message)
        finally:
            await bus.stop()
        queue_id = str(uuid.uuid5(COMMAND_NAMESPACE, command_id))
        done = await eventually(
            lambda: stored(served.state.queues, queue_id),
            lambda q: q is not None and q.status == "error",
            within=30,
            what="the commanded queue",
        )
    assert done is not None and done.jobs[0].request["retry"]["limit"] == 1
    assert [a.attempt for a in done.jobs[0].attempts] == [1, 2]


async def stored(queues: QueueService, queue_id: str) -> QueueState | None:
    try:
        return await queues.get(queue_id)
    except QueueNotFound:
        return None


def kubeconfig_for(kube: KubeEmulator, path: Path) -> Path:
    context = {"cluster": "emulator", "user": "me"}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "emulator",
        "clusters": [{"name": "emulator", "cluster": {"server": kube.url}}],
        "users": [{"name": "me", "user": {"token": "unused"}}],
        "contexts": [{"name": "emulator", "context": context}],
    }
    path.write_text(yaml.safe_dump(config))
    return path


def env_of(job: dict[str, Any]) -> dict[str, str]:
    container = job["spec"]["template"]["spec"]["containers"][0]
    return {item["name"]: item.get("value", "") for item in container["env"]}


async def test_in_a_cluster_attempt_two_is_a_job_of_its_own_name(
    app_with: Any, kube: KubeEmulator, tmp_path: Path
) -> None:
    config = kubeconfig_for(kube, tmp_path / "kubeconfig")
    cluster = app_with(job_launcher="kubernetes", k8s_namespace=kube.namespace, kubeconfig=config)
    async with cluster as qm:
        queue_id = await qm.start(one_job(QUICK))
        name = (await qm.queue(queue_id))["jobs"][0]["name"]
        failed = {"type": "Failed", "reason": "BackoffLimitExceeded", "message": "exit code 1"}
        await kube.set_conditions(name, failed)
        await eventually(kube.job_names, lambda names: f"{name}-a2" in names, what="attempt 2")
        again = await qm.wait_for(queue_id, lambda q: q["jobs"][0]["status"] == "starting")
        by_policy = {"type": "Failed", "reason": "PodFailurePolicy", "message": "exit code 2"}
        await kube.set_conditions(f"{name}-a2", by_policy)
        done = await qm.wait_for(queue_id, ended)
    attempt_two = env_of(kube.job(f"{name}-a2"))
    assert (attempt_two["JOB_NAME"], attempt_two["JOB_RUN_NAME"]) == (name, f"{name}-a2")
    assert (attempt_two["JOB_ATTEMPT"], attempt_two["JOB_MAX_ATTEMPTS"]) == ("2", "3")
    assert again["jobs"][0]["attempt"] == 2
    assert kube.job_names() == [name, f"{name}-a2"], "a bad configuration is not retried"
    job = done["jobs"][0]
    assert (done["status"], [a["status"] for a in job["attempts"]]) == ("error", ["error"] * 2)
    assert "PodFailurePolicy" in job["error_message"]


async def test_after_a_crash_a_waiting_job_is_retried_when_due_and_its_count_goes_on(
    settings_for: Callable[..., Any],
) -> None:
    """As a SIGKILLed service leaves it: the store holds a job waiting for attempt 3 (two
    attempts failed) and a job whose attempt 2 was loading; their processes are gone."""
    settings = settings_for(targets={"loader-producer": scripted("exit", "0")})
    connector = {"target": "arango-connector", "type": "api_candles_1m", "retry": QUICK}
    body = {**one_job(QUICK), "requests": [*one_job(QUICK)["requests"], connector]}
    queue = new_queue(QueueCreate.model_validate(body), str(uuid.uuid4()))
    waiting, loading = queue.jobs
    now = utcnow()
    failed = [Attempt(attempt=n, status=Status.ERROR, finished_at=now) for n in (1, 2)]
    waiting.attempt, waiting.attempts = 2, failed
    waiting.not_before = now + timedelta(seconds=1)
    waiting.waiting_for = "retrying in 1 s (attempt 3 of 3): exit code 1"
    loading.status, loading.attempt = Status.LOADING, 2
    loading.attempts = [failed[0], Attempt(attempt=2, status=Status.LOADING, started_at=now)]
    store = SqliteQueueStore(settings.database_path)
    await store.open()
    await store.create(queue)
    await store.close()
    async with running_app(settings) as qm:
        done = await qm.wait_for(queue.id, lambda q: q["jobs"][0]["status"] == "finished")
        connector_job = await qm.wait_for(queue.id, lambda q: q["jobs"][1]["attempt"] == 3)
    third = done["jobs"][0]["attempts"][2]
    assert datetime.fromisoformat(third["started_at"]) >= waiting.not_before, "not before due"
    assert [(a["attempt"], a["status"]) for a in done["jobs"][0]["attempts"]] == [
        (1, "error"),
        (2, "error"),
        (3, "finished"),
    ]
    gone = connector_job["jobs"][1]["attempts"][1]
    assert (gone["status"], gone["error_message"]) == (
        "error",
        "the job's process is gone: the service restarted while it ran",
    )
    logs = sorted(p.name for p in (settings.jobs_dir / queue.id).glob("*.log"))
    assert logs == [f"{loading.name}-a3.log", f"{waiting.name}-a3.log"], "each attempt once"
