"""Cluster mode end to end: the service with the Kubernetes launcher on the kmock emulator
(real kubernetes client over HTTP, found through a kubeconfig as in a developer's shell)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from tests.fixtures.kube import KubeEmulator
from tests.seed_examples import BASIC


@pytest.fixture
def kubeconfig(kube: KubeEmulator, tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "emulator",
                "clusters": [{"name": "emulator", "cluster": {"server": kube.url}}],
                "users": [{"name": "me", "user": {"token": "unused"}}],
                "contexts": [
                    {"name": "emulator", "context": {"cluster": "emulator", "user": "me"}}
                ],
            }
        )
    )
    return path


def cluster(app_with: Any, kube: KubeEmulator, kubeconfig: Path) -> Any:
    return app_with(job_launcher="kubernetes", k8s_namespace=kube.namespace, kubeconfig=kubeconfig)


async def test_jobs_are_created_and_their_conditions_reach_the_queue(
    app_with: Any, kube: KubeEmulator, kubeconfig: Path
) -> None:
    async with cluster(app_with, kube, kubeconfig) as qm:
        queue_id = await qm.start(BASIC)
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
        queue_id = await qm.start(BASIC)
        names = [job["name"] for job in (await qm.queue(queue_id))["jobs"]]
    await kube.delete_job(names[0])
    async with cluster(app_with, kube, kubeconfig) as qm:
        queue = await qm.wait_for(queue_id, lambda q: q["jobs"][0]["status"] == "error")
        assert queue["jobs"][1]["status"] == "starting", "the running Job was adopted"
        assert kube.job_names() == [names[1]], "no Job was created twice"
