"""The rendered Job: valid batch/v1, secrets only by reference, per-target image and command."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

from app.config import Settings
from app.errors import LaunchFailed
from app.launchers.base import JobSpec
from app.launchers.k8s_render import SECRET_KEYS, label_value, render_job
from app.launchers.targets import TargetSpec, default_registry
from app.naming import job_name

K8S_VERSION = kubernetes_validate.latest_version()
QUEUE = "5f1c2a9e-7d3b-4c1e-9a2f-0b6d8e4c3a21"


def settings(**overrides: Any) -> Settings:
    return Settings(_env_file=None, **overrides)


def spec(target: str, job_type: str = "api_candles_5m", bounded: bool = True) -> JobSpec:
    return JobSpec(
        queue_id=QUEUE,
        name=job_name(QUEUE, target, job_type),
        target=target,
        type=job_type,
        env={"QUEUE_ID": QUEUE, "ARANGO_PASSWORD": "leak"},
        bounded=bounded,
    )


def container(job: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = job["spec"]["template"]["spec"]["containers"]
    return containers[0]


@pytest.mark.parametrize("target", sorted(default_registry()))
@pytest.mark.parametrize("bounded", [True, False])
def test_every_target_renders_a_valid_job(target: str, bounded: bool) -> None:
    job = render_job(
        spec(target, bounded=bounded),
        default_registry()[target],
        settings(ca_path="/etc/streamforge/ca/ca.crt"),
    )
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)


def test_the_validator_does_reject_a_broken_job() -> None:
    job = render_job(spec("loader-producer"), default_registry()["loader-producer"], settings())
    job["spec"]["backoffLimit"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, K8S_VERSION, strict=True)


def test_external_target_uses_its_own_image_and_entrypoint() -> None:
    job = render_job(spec("gnn-trainer", "train"), default_registry()["gnn-trainer"], settings())
    assert container(job)["image"] == "registry.example.com/streamforge/gnn-trainer"
    assert "command" not in container(job)


def test_own_target_runs_the_service_image() -> None:
    job = render_job(
        spec("arango-connector"),
        default_registry()["arango-connector"],
        settings(k8s_job_image="reg/qm:1.2"),
    )
    assert container(job)["image"] == "reg/qm:1.2"
    assert container(job)["command"] == ["python", "-m", "app.workers", "arango-connector"]


@pytest.mark.parametrize(
    ("target", "secrets"),
    [
        ("loader-producer", {"KAFKA_USER", "KAFKA_PASSWORD", "MOEX_LOGIN", "MOEX_PASSCODE"}),
        ("arango-connector", {"KAFKA_USER", "KAFKA_PASSWORD", "ARANGO_USER", "ARANGO_PASSWORD"}),
    ],
)
def test_no_secret_value_is_ever_literal_and_each_target_gets_its_own(
    target: str, secrets: set[str]
) -> None:
    job = render_job(spec(target), default_registry()[target], settings())
    env = container(job)["env"]
    assert [item["name"] for item in env if "value" in item] == ["QUEUE_ID"]
    assert {item["name"] for item in env if "valueFrom" in item} == secrets
    assert secrets <= set(SECRET_KEYS)
    assert "leak" not in str(job)


def test_a_targets_own_env_from_targets_file_reaches_the_pod() -> None:
    entry = TargetSpec(command=["tool"], env={"DEMO_JSON": "{}", "KAFKA_PASSWORD": "leak"})
    env = container(render_job(spec("visualizer"), entry, settings()))["env"]
    assert {"name": "DEMO_JSON", "value": "{}"} in env
    assert "leak" not in str(env)


def test_pod_failure_policy_fails_fast_on_bad_config_and_ignores_disruption() -> None:
    job = render_job(spec("loader-producer"), default_registry()["loader-producer"], settings())
    rules = job["spec"]["podFailurePolicy"]["rules"]
    assert rules[0]["action"] == "FailJob" and rules[0]["onExitCodes"]["values"] == [2]
    assert rules[1] == {
        "action": "Ignore",
        "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
    }


@pytest.mark.parametrize(
    "ca_path", ["/etc/streamforge/ca/ca.crt", "/tmp/ca.crt", "/tmp", "certs/kafka-ca.pem"]
)
def test_the_ca_is_mounted_where_the_jobs_ca_path_points(ca_path: str) -> None:
    """Any CA_PATH of the service (under /tmp, relative) gives one clean absolute mount."""
    job = render_job(
        spec("loader-producer"), default_registry()["loader-producer"], settings(ca_path=ca_path)
    )
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)
    mounts = [m["mountPath"] for m in container(job)["volumeMounts"]]
    assert mounts == ["/tmp", "/etc/streamforge/kafka-ca"]
    env = {item["name"]: item.get("value") for item in container(job)["env"]}
    assert env["CA_PATH"] == "/etc/streamforge/kafka-ca/ca.crt"
    volume = job["spec"]["template"]["spec"]["volumes"][1]["secret"]
    assert volume["items"] == [{"key": "ca.crt", "path": "ca.crt"}]


def test_without_a_ca_there_is_no_mount_and_no_ca_path() -> None:
    job = render_job(spec("loader-producer"), default_registry()["loader-producer"], settings())
    assert [m["mountPath"] for m in container(job)["volumeMounts"]] == ["/tmp"]
    assert "CA_PATH" not in {item["name"] for item in container(job)["env"]}


@pytest.mark.parametrize("entry", [None, TargetSpec()])
def test_a_target_that_cannot_run_fails_naming_it(entry: TargetSpec | None) -> None:
    with pytest.raises(LaunchFailed, match="visualizer has neither an image nor a command"):
        render_job(spec("visualizer", "render"), entry, settings())


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("api_candles_5m", "api_candles_5m"),
        ("--Weird value!--", "Weird-value"),
        ("x" * 80, "x" * 63),
        ("a" * 62 + "-b", "a" * 62),
    ],
)
def test_label_values_are_sanitised(raw: str, label: str) -> None:
    assert label_value(raw) == label
