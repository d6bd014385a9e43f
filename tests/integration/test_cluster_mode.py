"""Cluster mode end to end: the service with the Kubernetes launcher on the kmock emulator
(real kubernetes client over HTTP, found through a kubeconfig as in a developer's shell)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from app.services.queue_service import PLATFORM_DOWN
from tests.fixtures.certificates import write_self_signed_ca
from tests.fixtures.kube import KubeEmulator
from tests.fixtures.pods import container_argv, pod_environment
from tests.seed_examples import BASIC, BASIC_NO_RETRY


@pytest.fixture
def kubeconfig(kube: KubeEmulator, tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(_kubeconfig(kube.url)))
    return path


def _kubeconfig(server: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "emulator",
        "clusters": [{"name": "emulator", "cluster": {"server": server}}],
        "users": [{"name": "me", "user": {"token": "unused"}}],
        "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "me"}}],
    }


def cluster(app_with: Any, kube: KubeEmulator, kubeconfig: Path) -> Any:
    return app_with(job_launcher="kubernetes", k8s_namespace=kube.namespace, kubeconfig=kubeconfig)


async def test_jobs_are_created_and_their_conditions_reach_the_queue(
    app_with: Any, kube: KubeEmulator, kubeconfig: Path
) -> None:
    async with cluster(app_with, kube, kubeconfig) as qm:
        queue_id = await qm.start(BASIC_NO_RETRY)  # retried: tests/integration/test_retries.py
        queue = await qm.queue(queue_id)
        names = [job["name"] for job in queue["jobs"]]
        assert kube.job_names() == sorted(names)
        assert all(job["status"] == "starting" for job in queue["jobs"])
        await kube.set_conditions(
            names[0],
            {
                "type": "Failed",
                "reason": "DeadlineExceeded",
                "message": "Job was active longer than deadline",
            },
        )
        await kube.set_conditions(names[1], {"type": "Complete"})
        ended = await qm.wait_for(queue_id, lambda q: q["status"] == "error")
        assert "longer than deadline" in ended["jobs"][0]["error_message"]
        assert ended["jobs"][1]["status"] == "finished"


async def test_stop_deletes_the_jobs_and_the_queue_ends_stopped(
    app_with: Any, kube: KubeEmulator, kubeconfig: Path
) -> None:
    async with cluster(app_with, kube, kubeconfig) as qm:
        queue_id = await qm.start(BASIC)
        await qm.client.post("/queues/stop", params={"queue_id": queue_id})
        stopped = await qm.wait_for(queue_id, lambda q: q["status"] == "stopped", within=20)
        assert all(job["status"] == "stopped" for job in stopped["jobs"])
        assert kube.job_names() == []


async def test_restart_adopts_running_jobs_and_settles_vanished_ones(
    app_with: Any, kube: KubeEmulator, kubeconfig: Path
) -> None:
    async with cluster(app_with, kube, kubeconfig) as qm:
        queue_id = await qm.start(BASIC_NO_RETRY)
        names = [job["name"] for job in (await qm.queue(queue_id))["jobs"]]
    await kube.delete_job(names[0])
    async with cluster(app_with, kube, kubeconfig) as qm:
        queue = await qm.wait_for(queue_id, lambda q: q["jobs"][0]["status"] == "error")
        assert queue["jobs"][1]["status"] == "starting", "the running Job was adopted"
        assert kube.job_names() == [names[1]], "no Job was created twice"


async def test_a_rendered_job_runs_as_its_pod_would_and_reports_to_the_service(
    app_with: Any, kube: KubeEmulator, kubeconfig: Path, tmp_path: Path
) -> None:
    """Play the kubelet: the Job the service created runs its container command as a local
    process with exactly the pod's environment (values, secrets resolved from the Secret,
    the CA mount mapped), against the embedded broker; its telemetry reaches the queue."""
    demo = {"command": ["python", "-m", "app.workers", "demo-job"]}
    targets = {"loader-producer": {**demo, "env": {"DEMO_JSON": '{"records": 20}'}}}
    ca_file = write_self_signed_ca(tmp_path / "service-ca.pem")
    ca_text = ca_file.read_text()
    kafka = {"kafka_security_protocol": "PLAINTEXT", "kafka_user": "svc", "ca_path": ca_file}
    async with cluster_with(app_with, kube, kubeconfig, targets=targets, **kafka) as qm:
        queue_id = await qm.start(BASIC)
        loader = (await qm.queue(queue_id))["jobs"][0]["name"]
        secret = {"KAFKA_USER": "svc", "KAFKA_PASSWORD": "pw", "ca.crt": ca_text}
        env = pod_environment(kube.job(loader), secret, tmp_path / "pod")
        assert await asyncio.to_thread(Path(env["CA_PATH"]).read_text) == ca_text
        code, output = await run_to_end(container_argv(kube.job(loader)), env)
        assert code == 0, output[-2000:]
        queue = await qm.wait_for(queue_id, lambda q: q["jobs"][0]["status"] == "finished")
        assert queue["jobs"][0]["records_written"] == 20


def cluster_with(app_with: Any, kube: KubeEmulator, kubeconfig: Path, **settings: Any) -> Any:
    return app_with(
        job_launcher="kubernetes", k8s_namespace=kube.namespace, kubeconfig=kubeconfig, **settings
    )


async def run_to_end(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run `argv` with exactly `env`; its exit code and output (stdout and stderr)."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_a_cluster_that_cannot_be_reached_holds_jobs_without_failing_them(
    app_with: Any, kube: KubeEmulator, tmp_path: Path
) -> None:
    """A launch held while the API is down is not a failed job: jobs_failed_total stays 0."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    config = tmp_path / "unreachable"
    config.write_text(yaml.safe_dump(_kubeconfig(closed)))
    async with app_with(
        job_launcher="kubernetes", k8s_namespace=kube.namespace, kubeconfig=config
    ) as qm:
        queue_id = await qm.start(BASIC)
        held = await qm.wait_for(
            queue_id,
            lambda q: all(
                (j.get("waiting_for") or "").startswith(PLATFORM_DOWN) for j in q["jobs"]
            ),
        )
        assert all(job["status"] == "pending" for job in held["jobs"])
        metrics = (await qm.client.get("/metrics")).text
        assert "jobs_failed_total{" not in metrics, "a held launch is no failure"
