"""The rendered Job: valid batch/v1, secrets only by reference, per-target image and command."""

from __future__ import annotations

from pathlib import Path
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


def test_no_secret_value_is_ever_literal() -> None:
    job = render_job(spec("loader-producer"), default_registry()["loader-producer"], settings())
    env = container(job)["env"]
    assert [item["name"] for item in env if "value" in item] == ["QUEUE_ID"]
    assert {item["name"] for item in env if "valueFrom" in item} == set(SECRET_KEYS)
    assert "leak" not in str(job)


def test_pod_failure_policy_fails_fast_on_bad_config_and_ignores_disruption() -> None:
    job = render_job(spec("loader-producer"), default_registry()["loader-producer"], settings())
    rules = job["spec"]["podFailurePolicy"]["rules"]
    assert rules[0]["action"] == "FailJob" and rules[0]["onExitCodes"]["values"] == [2]
    assert rules[1] == {
        "action": "Ignore",
        "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
    }


def test_ca_certificate_is_mounted_where_ca_path_points() -> None:
    job = render_job(
        spec("loader-producer"),
        default_registry()["loader-producer"],
        settings(ca_path=Path("/etc/streamforge/ca/ca.crt")),
    )
    mounts = {m["name"]: m["mountPath"] for m in container(job)["volumeMounts"]}
    assert mounts == {"tmp": "/tmp", "kafka-ca": "/etc/streamforge/ca"}


@pytest.mark.parametrize("entry", [None, TargetSpec()])
def test_a_target_that_cannot_run_fails_naming_it(entry: TargetSpec | None) -> None:
    with pytest.raises(LaunchFailed, match="'visualizer'"):
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
