"""Render one JobSpec as a batch/v1 Job manifest (a plain dict, the API's own shape).

Pure: no API calls, so the manifest can be checked against the Kubernetes schema in tests.
The container's environment is the job environment contract (job_environment.py): the
literal values, the target's secrets as `secretKeyRef`s into K8S_SECRET_NAME (never
values), and CA_PATH pointing at the Kafka CA mounted from the same Secret.
"""

from __future__ import annotations

import re
from typing import Any

from app.config import Settings
from app.errors import LaunchFailed
from app.exit_codes import ExitCode
from app.launchers.base import JobSpec
from app.launchers.job_environment import (
    CA_FILE_NAME,
    POD_CA_DIR,
    POD_CA_PATH,
    JobEnvironment,
    job_environment,
)
from app.launchers.targets import SECRET_NAMES, Resources, TargetSpec, not_runnable_in_cluster

Json = dict[str, Any]

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "queue-manager"
QUEUE_ID = "streamforge.io/queue-id"
TARGET = "streamforge.io/target"
JOB_TYPE = "streamforge.io/type"
MANAGED_SELECTOR = f"{MANAGED_BY}={MANAGER}"
CONTAINER = "job"
SECRET_KEYS = SECRET_NAMES
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
    reason = not_runnable_in_cluster(spec.target, target)
    if target is None or reason:
        raise LaunchFailed(reason)
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
                    "values": [int(ExitCode.BAD_CONFIG)],
                },
            },
            {
                "action": "Ignore",
                "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
            },
        ]
    }


def _pod_spec(spec: JobSpec, target: TargetSpec, settings: Settings) -> Json:
    environment = job_environment(spec, target, settings)
    volumes, mounts = _volumes(environment, settings)
    container: Json = {
        "name": CONTAINER,
        "image": target.image or settings.k8s_job_image,
        "env": pod_env(environment, settings),
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


def pod_env(environment: JobEnvironment, settings: Settings) -> list[Json]:
    """The contract's literal values, CA_PATH at the mounted CA, then the secrets as refs."""
    values = dict(environment.values)
    if environment.kafka_ca is not None:
        values["CA_PATH"] = POD_CA_PATH
    literals = [{"name": name, "value": value} for name, value in sorted(values.items())]
    secret_refs = [
        {
            "name": name,
            "valueFrom": {
                "secretKeyRef": {"name": settings.k8s_secret_name, "key": name, "optional": True}
            },
        }
        for name in environment.secrets
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


def _volumes(environment: JobEnvironment, settings: Settings) -> tuple[list[Json], list[Json]]:
    """A writable /tmp (the root filesystem is read-only), and the Kafka CA from the Secret
    at POD_CA_DIR (a path of its own, whatever the service's CA_PATH is)."""
    volumes: list[Json] = [{"name": "tmp", "emptyDir": {}}]
    mounts: list[Json] = [{"name": "tmp", "mountPath": "/tmp"}]
    if environment.kafka_ca is not None:
        volumes.append(
            {
                "name": "kafka-ca",
                "secret": {
                    "secretName": settings.k8s_secret_name,
                    "optional": True,
                    "items": [{"key": CA_SECRET_KEY, "path": CA_FILE_NAME}],
                },
            }
        )
        mounts.append({"name": "kafka-ca", "mountPath": POD_CA_DIR, "readOnly": True})
    return volumes, mounts
