"""Render one JobSpec as a batch/v1 Job manifest (a plain dict, the API's own shape).

Pure: no API calls, so the manifest can be checked against the Kubernetes schema in tests.
Secrets never appear as values: they are `secretKeyRef`s into K8S_SECRET_NAME.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

from app.config import Settings
from app.errors import LaunchFailed
from app.launchers.base import JobSpec
from app.launchers.targets import Resources, TargetSpec

Json = dict[str, Any]

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "queue-manager"
QUEUE_ID = "streamforge.io/queue-id"
TARGET = "streamforge.io/target"
JOB_TYPE = "streamforge.io/type"
MANAGED_SELECTOR = f"{MANAGED_BY}={MANAGER}"
CONTAINER = "job"
BAD_CONFIG_EXIT_CODE = 2
"""Workers exit 2 on bad configuration: retrying cannot help, so the Job fails at once."""

SECRET_KEYS = (
    "KAFKA_USER",
    "KAFKA_PASSWORD",
    "ARANGO_USER",
    "ARANGO_PASSWORD",
    "MOEX_LOGIN",
    "MOEX_PASSCODE",
)
CA_SECRET_KEY = "ca.crt"


def label_value(text: str) -> str:
    """A valid label value: <= 63 chars of [A-Za-z0-9._-], alphanumeric at both ends."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", text)[:63]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", cleaned)


def job_labels(spec: JobSpec) -> dict[str, str]:
    return {
        MANAGED_BY: MANAGER,
        QUEUE_ID: label_value(spec.queue_id),
        TARGET: label_value(spec.target),
        JOB_TYPE: label_value(spec.type),
    }


def queue_selector(queue_id: str) -> str:
    return f"{MANAGED_SELECTOR},{QUEUE_ID}={label_value(queue_id)}"


def render_job(spec: JobSpec, target: TargetSpec | None, settings: Settings) -> Json:
    """The Job for `spec`; LaunchFailed when the target cannot run in a cluster."""
    if target is None or (target.command is None and target.image is None):
        raise LaunchFailed(
            f"target {spec.target!r} has neither a command nor an image "
            "in the target registry (TARGETS_FILE)"
        )
    metadata = {
        "name": spec.name,
        "namespace": settings.k8s_namespace,
        "labels": job_labels(spec),
        "annotations": {QUEUE_ID: spec.queue_id},
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": _job_spec(spec, target, settings),
    }


def _job_spec(spec: JobSpec, target: TargetSpec, settings: Settings) -> Json:
    job: Json = {
        "backoffLimit": settings.k8s_job_backoff_limit,
        "ttlSecondsAfterFinished": settings.k8s_job_ttl_seconds,
        "podFailurePolicy": _pod_failure_policy(),
        "template": {
            "metadata": {"labels": job_labels(spec)},
            "spec": _pod_spec(spec, target, settings),
        },
    }
    if spec.bounded:
        job["activeDeadlineSeconds"] = settings.k8s_history_deadline_seconds
    return job


def _pod_failure_policy() -> Json:
    return {
        "rules": [
            {
                "action": "FailJob",
                "onExitCodes": {
                    "containerName": CONTAINER,
                    "operator": "In",
                    "values": [BAD_CONFIG_EXIT_CODE],
                },
            },
            {
                "action": "Ignore",
                "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
            },
        ]
    }


def _pod_spec(spec: JobSpec, target: TargetSpec, settings: Settings) -> Json:
    volumes, mounts = _volumes(settings)
    container: Json = {
        "name": CONTAINER,
        "image": target.image or settings.k8s_job_image,
        "env": job_env(spec, settings),
        "resources": _resources(target.resources),
        "securityContext": _container_security(),
        "volumeMounts": mounts,
    }
    if target.command:
        container["command"] = list(target.command)
    return {
        "restartPolicy": "Never",
        "serviceAccountName": settings.k8s_service_account,
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "fsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": volumes,
    }


def job_env(spec: JobSpec, settings: Settings) -> list[Json]:
    """spec.env as literals (minus any secret name), then the secrets as references."""
    literals = [
        {"name": key, "value": value}
        for key, value in sorted(spec.env.items())
        if key not in SECRET_KEYS
    ]
    secret_refs = [
        {
            "name": key,
            "valueFrom": {
                "secretKeyRef": {"name": settings.k8s_secret_name, "key": key, "optional": True}
            },
        }
        for key in SECRET_KEYS
    ]
    return literals + secret_refs


def _resources(resources: Resources) -> Json:
    return {
        "requests": {"cpu": resources.cpu_request, "memory": resources.memory_request},
        "limits": {"cpu": resources.cpu_limit, "memory": resources.memory_limit},
    }


def _container_security() -> Json:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "capabilities": {"drop": ["ALL"]},
    }


def _volumes(settings: Settings) -> tuple[list[Json], list[Json]]:
    """A writable /tmp (the root filesystem is read-only), and the Kafka CA if CA_PATH is set."""
    volumes: list[Json] = [{"name": "tmp", "emptyDir": {}}]
    mounts: list[Json] = [{"name": "tmp", "mountPath": "/tmp"}]
    if settings.ca_path is not None:
        ca_file = PurePosixPath(settings.ca_path)
        volumes.append(
            {
                "name": "kafka-ca",
                "secret": {
                    "secretName": settings.k8s_secret_name,
                    "optional": True,
                    "items": [{"key": CA_SECRET_KEY, "path": ca_file.name}],
                },
            }
        )
        mounts.append({"name": "kafka-ca", "mountPath": str(ca_file.parent), "readOnly": True})
    return volumes, mounts
