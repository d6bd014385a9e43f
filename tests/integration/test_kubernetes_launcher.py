"""KubernetesLauncher against the kmock API emulator, through the real kubernetes client.

What every launcher promises is in tests/contract/test_launcher_contract.py; these are the
cluster's own details (labels, secrets, 409 adoption, deletes, RBAC errors)."""

from __future__ import annotations

import asyncio
import socket
import time

import kmock
import pytest

from app.errors import (
    LauncherForbidden,
    LauncherUnavailable,
    LaunchFailed,
)
from app.launchers.base import JobPhase, JobSpec
from app.launchers.k8s_render import SECRET_KEYS
from app.launchers.kubernetes import KubernetesLauncher
from app.launchers.targets import TargetSpec, default_registry
from app.naming import job_name
from tests.fixtures.kube import JOBS, PODS, KubeEmulator, api_client_for, fast_launcher

pytestmark = pytest.mark.timeout(10)
QUEUE = "5f1c2a9e-7d3b-4c1e-9a2f-0b6d8e4c3a21"


def spec_for(
    target: str = "loader-producer",
    job_type: str = "api_candles_5m",
    bounded: bool = True,
    queue_id: str = QUEUE,
) -> JobSpec:
    env = {"QUEUE_ID": queue_id, "TARGET": target, "KAFKA_PASSWORD": "must-not-appear"}
    return JobSpec(
        queue_id=queue_id,
        name=job_name(queue_id, target, job_type),
        target=target,
        type=job_type,
        env=env,
        bounded=bounded,
    )


async def test_launch_creates_a_job_with_labels_secrets_and_limits(
    kube: KubeEmulator, launcher: KubernetesLauncher
) -> None:
    spec = spec_for()
    await launcher.launch(spec)
    job = kube.job(spec.name)
    assert job["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "queue-manager",
        "streamforge.io/queue-id": QUEUE,
        "streamforge.io/target": "loader-producer",
        "streamforge.io/type": "api_candles_5m",
    }
    assert job["spec"]["activeDeadlineSeconds"] == 86_400
    assert job["spec"]["backoffLimit"] == 2 and job["spec"]["ttlSecondsAfterFinished"] == 3600
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["serviceAccountName"] == "queue-manager-jobs"
    assert pod["securityContext"]["runAsNonRoot"] is True
    container = pod["containers"][0]
    assert container["command"] == ["python", "-m", "app.workers", "loader-producer"]
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["limits"] == {"cpu": "1", "memory": "512Mi"}
    env = {item["name"]: item for item in container["env"]}
    assert env["QUEUE_ID"] == {"name": "QUEUE_ID", "value": QUEUE}
    loader_secrets = default_registry()["loader-producer"].secrets
    assert {"ARANGO_USER", "ARANGO_PASSWORD"}.isdisjoint(env), "the loader has no ArangoDB"
    for key in loader_secrets:
        assert key in SECRET_KEYS
        assert "value" not in env[key]
        assert env[key]["valueFrom"]["secretKeyRef"] == {
            "name": "queue-manager-secrets",
            "key": key,
            "optional": True,
        }
    assert "must-not-appear" not in str(job)


async def test_stream_job_has_no_deadline(kube: KubeEmulator, launcher: KubernetesLauncher) -> None:
    spec = spec_for(job_type="ws_trades", bounded=False)
    await launcher.launch(spec)
    assert "activeDeadlineSeconds" not in kube.job(spec.name)["spec"]


async def test_second_launch_gets_409_and_adopts_the_job(
    kube: KubeEmulator, launcher: KubernetesLauncher
) -> None:
    spec = spec_for()
    first = await launcher.launch(spec)
    second = await launcher.launch(spec)
    assert first == second == spec.name  # kmock assigns no uid: the name is the reference
    assert len(kube.server["post", JOBS]) == 2
    assert len(kube.server["get", JOBS, kmock.name(spec.name)]) == 1
    assert kube.job_names() == [spec.name]


async def test_target_without_command_or_image_fails_naming_it(kube: KubeEmulator) -> None:
    launcher = fast_launcher(kube)
    launcher._registry["visualizer"] = TargetSpec()
    with pytest.raises(LaunchFailed, match="visualizer has neither an image nor a command"):
        await launcher.launch(spec_for(target="visualizer", job_type="render"))
    assert len(kube.server["post", JOBS]) == 0


async def test_stop_deletes_running_jobs_in_background(
    kube: KubeEmulator, launcher: KubernetesLauncher
) -> None:
    specs = [spec_for(), spec_for(target="arango-connector")]
    for spec in specs:
        await launcher.launch(spec)
    await launcher.stop(QUEUE, [spec.name for spec in specs], grace_seconds=0)
    deletes = list(kube.server["delete", JOBS])
    assert sorted(str(request.name) for request in deletes) == sorted(s.name for s in specs)
    assert all(request.params["propagationPolicy"] == "Background" for request in deletes)
    assert kube.job_names() == []


async def test_stop_leaves_jobs_that_end_within_grace(
    kube: KubeEmulator, launcher: KubernetesLauncher
) -> None:
    spec = spec_for()
    await launcher.launch(spec)
    started = time.monotonic()
    stopping = asyncio.create_task(launcher.stop(QUEUE, [spec.name], grace_seconds=5))
    await kube.set_conditions(spec.name, {"type": "Complete"})
    await stopping
    assert time.monotonic() - started < 2
    assert len(kube.server["delete", JOBS]) == 0


async def test_stop_tolerates_a_job_already_gone(
    kube: KubeEmulator, launcher: KubernetesLauncher
) -> None:
    await launcher.stop(QUEUE, ["qm-never-launched"], grace_seconds=0)
    assert len(kube.server["delete", JOBS]) == 0


async def test_observe_after_restart_with_a_fresh_launcher(kube: KubeEmulator) -> None:
    done, failed, running = (
        spec_for(),
        spec_for(target="arango-connector"),
        spec_for(job_type="api_trades"),
    )
    first = fast_launcher(kube)
    for spec in (done, failed, running):
        await first.launch(spec)
    await first.close()
    await kube.set_conditions(done.name, {"type": "Complete"})
    await kube.set_conditions(failed.name, {"type": "Failed", "reason": "DeadlineExceeded"})
    phases = await fast_launcher(kube).observe(
        QUEUE, [done.name, failed.name, running.name, "qm-gone"]
    )
    assert phases == {
        done.name: JobPhase.SUCCEEDED,
        failed.name: JobPhase.FAILED,
        running.name: JobPhase.RUNNING,
        "qm-gone": JobPhase.MISSING,
    }


async def test_observe_ignores_jobs_of_other_queues(
    kube: KubeEmulator, launcher: KubernetesLauncher
) -> None:
    other = spec_for(queue_id="00000000-0000-0000-0000-000000000000")
    await launcher.launch(other)
    assert await launcher.observe(QUEUE, [other.name]) == {other.name: JobPhase.MISSING}


async def test_logs_read_the_tail_of_the_newest_pod(
    kube: KubeEmulator, launcher: KubernetesLauncher
) -> None:
    spec = spec_for()
    labels = {"job-name": spec.name, "streamforge.io/queue-id": QUEUE}
    await kube.add_pod("old", labels, "2024-01-01T00:00:00Z")
    await kube.add_pod("new", labels, "2024-01-01T00:05:00Z")
    logs = kube.server["get", PODS, kmock.subresource("log")]
    logs << kmock.headers({"Content-Type": "text/plain"}) << b"one\ntwo\nthree\n"
    assert await launcher.logs(QUEUE, spec.name, tail=2) == ["two", "three"]
    assert [(r.name, r.params["tailLines"]) for r in logs] == [("new", "2")]


async def test_forbidden_create_names_the_missing_rbac_permission(
    kube: KubeEmulator, launcher: KubernetesLauncher
) -> None:
    kube.server["post", JOBS] << kmock.KubernetesError(status=403, reason="Forbidden")
    with pytest.raises(LauncherForbidden) as caught:
        await launcher.launch(spec_for())
    assert "may not create jobs.batch in namespace streamforge: grant it in the Role" in str(
        caught.value
    )
    assert caught.value.status_code == 503


async def test_server_errors_make_the_launcher_unavailable(
    kube: KubeEmulator, launcher: KubernetesLauncher
) -> None:
    kube.server["get", JOBS] << kmock.KubernetesError(status=500, reason="InternalError")
    with pytest.raises(LauncherUnavailable):
        await launcher.ping()
    with pytest.raises(LauncherUnavailable):
        await launcher.observe(QUEUE, ["qm-x"])


async def test_unreachable_api_makes_the_launcher_unavailable(kube: KubeEmulator) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    api_client = api_client_for(f"http://127.0.0.1:{closed_port}")
    api_client.configuration.retries = 0
    unreachable = KubernetesLauncher(fast_launcher(kube)._settings, {}, api_client)
    with pytest.raises(LauncherUnavailable):
        await unreachable.ping()
    with pytest.raises(LauncherUnavailable, match="cannot reach the Kubernetes API"):
        await unreachable.observe(QUEUE, ["qm-x"])
    api_client.close()  # type: ignore[no-untyped-call]


async def test_unauthorized_is_about_credentials_not_rbac(
    kube: KubeEmulator, launcher: KubernetesLauncher
) -> None:
    kube.server["post", JOBS] << kmock.KubernetesError(status=401, reason="Unauthorized")
    with pytest.raises(LauncherForbidden) as caught:
        await launcher.launch(spec_for())
    assert "did not accept the service's credentials" in caught.value.message
    assert "Role" not in caught.value.message


async def test_an_invalid_job_keeps_the_api_servers_field_message(
    kube: KubeEmulator, launcher: KubernetesLauncher
) -> None:
    said = 'Job.batch "qm-x" is invalid: spec.template.spec.containers[0].image: Required value'
    kube.server["post", JOBS] << kmock.KubernetesError(status=422, reason="Invalid", message=said)
    with pytest.raises(LaunchFailed) as caught:
        await launcher.launch(spec_for())
    assert caught.value.message.endswith(said)
