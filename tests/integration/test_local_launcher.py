"""The local launcher: job environment, exit codes, stop with grace then kill, no orphans."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from app.launchers.base import JobSpec
from app.launchers.job_environment import PROCESS_BASICS, job_environment
from app.launchers.k8s_render import pod_env
from app.launchers.local import LocalLauncher
from app.launchers.targets import TargetSpec, default_registry, load_registry
from app.models.catalog import Target
from app.services.weight_shares import SHARE_ENV
from tests.fixtures.app import scripted
from tests.fixtures.eventually import eventually
from tests.fixtures.processes import pid_exists, wait_for_exit
from tests.jobs.scripted import IGNORING_SIGTERM
from tests.seed_examples import BASIC


def ended(queue: dict[str, Any]) -> bool:
    return queue["status"] in ("finished", "stopped", "error")


def loading_pids(queue: dict[str, Any]) -> list[int]:
    return [int(job["launcher_ref"]) for job in queue["jobs"] if job["launcher_ref"]]


async def test_job_gets_the_job_environment(app_with: Any) -> None:
    targets = {"loader-producer": scripted("env"), "arango-connector": scripted("exit", "0")}
    async with app_with(targets=targets) as qm:
        queue_id = await qm.start(BASIC)
        queue = await qm.wait_for(queue_id, ended)
        lines = (
            await qm.client.get(f"/queues/{queue_id}/logs", params={"job": "loader-producer"})
        ).json()["data"]["lines"]
        env = json.loads(lines[-1])
        assert env["QUEUE_ID"] == queue_id and env["TARGET"] == "loader-producer"
        assert env["JOB_TYPE"] == "api_candles_1m" and env["SYMBOL"] == "BTCUSDT"
        assert env["TIME_RANGE"] == BASIC["time_range"]
        assert env["KAFKA_TOPIC"] == queue["kafka_topic"] and env["QUEUE_CONTROL_TOPIC"]
        assert json.loads(env["REQUEST_JSON"]) == {
            "target": "loader-producer",
            "type": "api_candles_1m",
        }


async def test_a_local_job_gets_what_a_pod_would_and_no_service_secret(
    app_with: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A third-party command from TARGETS_FILE: the service's environment holds API tokens
    and other secrets of its own; the job gets the contract only, as its pod would."""
    monkeypatch.setenv("API_TOKENS", "service-token")
    monkeypatch.setenv("SERVICE_ONLY_SECRET", "do-not-pass")
    targets = {"loader-producer": scripted("allenv"), "arango-connector": scripted("exit", "0")}
    plain = {"kafka_security_protocol": "PLAINTEXT", "kafka_user": "svc"}
    async with app_with(targets=targets, api_tokens=None, **plain) as qm:
        queue_id = await qm.start(BASIC)
        await qm.wait_for(queue_id, ended)
        lines = (
            await qm.client.get(f"/queues/{queue_id}/logs", params={"job": "loader-producer"})
        ).json()["data"]["lines"]
        local = json.loads(lines[-1])
        settings = qm.state.settings
        queue = await qm.state.queues.get(queue_id)
        shares = {name: local[name] for name in SHARE_ENV}  # its weight share, at launch
        spec = qm.state.queues.job_spec(queue, queue.jobs[0], shares)
        target = load_registry(settings.targets_file)["loader-producer"]
        pod = pod_env(job_environment(spec, target, settings), settings)
    assert "service-token" not in json.dumps(local) and "do-not-pass" not in json.dumps(local)
    assert set(local) - set(PROCESS_BASICS) == {item["name"] for item in pod} - {"KAFKA_PASSWORD"}
    assert local["KAFKA_USER"] == "svc" and local["KAFKA_SECURITY_PROTOCOL"] == "PLAINTEXT"


async def test_stop_sends_sigterm_and_the_job_ends_stopped(app_with: Any) -> None:
    targets = {
        "loader-producer": scripted("sleep", "30"),
        "arango-connector": scripted("sleep", "30"),
    }
    async with app_with(targets=targets, job_stop_grace_seconds=5) as qm:
        queue_id = await qm.start(BASIC)
        pids = loading_pids(await qm.queue(queue_id))
        started = time.monotonic()
        await qm.client.post("/queues/stop", params={"queue_id": queue_id})
        queue = await qm.wait_for(queue_id, ended)
        assert queue["status"] == "stopped" and time.monotonic() - started < 3
        assert all(job["status"] == "stopped" for job in queue["jobs"])
        assert not any(pid_exists(pid) for pid in pids)


async def test_a_job_ignoring_sigterm_is_killed_after_the_grace_period(app_with: Any) -> None:
    targets = {
        "loader-producer": scripted("stubborn", "30"),
        "arango-connector": scripted("exit", "0"),
    }
    async with app_with(targets=targets, job_stop_grace_seconds=0.5) as qm:
        queue_id = await qm.start(BASIC)
        running = await qm.wait_for(queue_id, lambda q: q["jobs"][1]["status"] == "finished")
        log = qm.state.queues.launcher.log_path(queue_id, running["jobs"][0]["name"])
        await eventually(lambda: IGNORING_SIGTERM in log.read_text(), what="SIGTERM ignored")
        started = time.monotonic()
        await qm.client.post("/queues/stop", params={"queue_id": queue_id})
        queue = await qm.wait_for(queue_id, ended)
        elapsed = time.monotonic() - started
        assert 0.5 <= elapsed < 3, elapsed
        assert queue["jobs"][0]["status"] == "stopped"
        assert "SIGKILL" in queue["jobs"][0]["error_message"]


async def test_stop_kills_the_jobs_whole_process_group(app_with: Any) -> None:
    targets = {
        "loader-producer": scripted("family", "30"),
        "arango-connector": scripted("exit", "0"),
    }
    async with app_with(targets=targets) as qm:
        queue_id = await qm.start(BASIC)
        grandchild = await _grandchild_pid(qm, queue_id)
        await qm.client.post("/queues/stop", params={"queue_id": queue_id})
        await qm.wait_for(queue_id, ended)
        await wait_for_exit(grandchild, within=3)


async def _grandchild_pid(qm: Any, queue_id: str) -> int:
    async def reported() -> list[str]:
        logs = await qm.client.get(f"/queues/{queue_id}/logs", params={"job": "loader-producer"})
        lines = logs.json()["data"]["lines"]
        return [m.group(1) for line in lines if (m := re.search(r"grandchild pid=(\d+)", line))]

    found = await eventually(reported, within=5, what="the job reporting its grandchild")
    return int(found[0])


async def test_shutdown_with_running_jobs_stops_them_and_leaves_no_process(app_with: Any) -> None:
    targets = {
        "loader-producer": scripted("sleep", "30"),
        "arango-connector": scripted("sleep", "30"),
    }
    async with app_with(targets=targets) as qm:
        queue_id = await qm.start(BASIC)
        pids = loading_pids(await qm.queue(queue_id))
        assert all(pid_exists(pid) for pid in pids)
    for pid in pids:
        await wait_for_exit(pid, within=1, what=f"pid {pid} gone with the service")
    async with app_with(targets=targets) as qm:
        queue = await qm.queue(queue_id)
        assert queue["status"] == "stopped", queue
        assert all(job["status"] == "stopped" for job in queue["jobs"])


async def test_a_default_pipeline_whose_target_has_no_command_is_refused(app_with: Any) -> None:
    targets = {"loader-producer": {"command": None}, "arango-connector": scripted("exit", "0")}
    async with app_with(targets=targets) as qm:
        response = await qm.client.post("/queues/start", json=BASIC)
        assert response.status_code == 422, response.text
        (problem,) = response.json()["data"]
        assert problem["field"] == "type"
        assert problem["reason"].startswith(
            "the default pipeline of type api runs loader-producer has no command"
        )
        assert "TARGETS_FILE" in problem["reason"]
        assert (await qm.client.get("/queues")).headers["X-Total-Count"] == "0"


async def test_close_kills_a_job_deaf_to_sigterm_after_job_stop_grace_seconds(
    tmp_path: Path,
) -> None:
    """At shutdown the launcher waits JOB_STOP_GRACE_SECONDS, not a fixed time, then kills."""
    registry = {**default_registry(), "loader-producer": TargetSpec(**scripted("stubborn", "30"))}
    settings = Settings(_env_file=None, data_dir=tmp_path / "var", job_stop_grace_seconds=0.5)
    launcher = LocalLauncher(registry, tmp_path / "jobs", settings)
    spec = JobSpec("q", "qm-stubborn", Target.LOADER_PRODUCER, "api_candles_1m")
    pid = int(await launcher.launch(spec))
    log = launcher.log_path("q", spec.name)
    await eventually(lambda: log.exists() and IGNORING_SIGTERM in log.read_text())
    started = time.monotonic()
    await launcher.close()
    elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 3, elapsed
    await wait_for_exit(pid, within=1)
