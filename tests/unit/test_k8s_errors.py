"""Kubernetes failures become our errors, with a message that says what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import MaxRetryError

from app.config import Settings
from app.errors import (
    AlreadyExists,
    JobNotFound,
    LauncherForbidden,
    LauncherUnavailable,
    LaunchFailed,
)
from app.launchers.k8s_errors import API_CALLS, ResourceVersionExpired, translate
from app.launchers.kubernetes import KubernetesLauncher

CREATE = API_CALLS["create_namespaced_job"]


def test_403_names_verb_resource_and_namespace() -> None:
    error = translate(ApiException(status=403, reason="Forbidden"), CREATE, "prod")
    assert isinstance(error, LauncherForbidden)
    assert error.message.startswith(
        "the service account may not create jobs.batch in namespace prod: grant it in the Role"
    )


def test_pod_log_permission_is_spelled_like_rbac() -> None:
    error = translate(ApiException(status=403), API_CALLS["read_namespaced_pod_log"], "ns")
    assert "may not get pods/log in namespace ns" in error.message


def test_statuses_map_to_our_errors() -> None:
    assert isinstance(translate(ApiException(status=404), CREATE, "ns"), JobNotFound)
    assert isinstance(translate(ApiException(status=409), CREATE, "ns"), AlreadyExists)
    assert isinstance(translate(ApiException(status=503), CREATE, "ns"), LauncherUnavailable)
    gone = translate(ApiException(status=410), API_CALLS["watch_namespaced_job"], "ns")
    assert isinstance(gone, ResourceVersionExpired)
    assert isinstance(translate(ApiException(status=422), CREATE, "ns"), LaunchFailed)


def test_connection_failures_are_unavailable_503() -> None:
    error = translate(MaxRetryError(None, "/apis"), CREATE, "ns")  # type: ignore[arg-type]
    assert isinstance(error, LauncherUnavailable) and error.status_code == 503
    assert isinstance(translate(ConnectionRefusedError(), CREATE, "ns"), LauncherUnavailable)


def test_anything_else_is_wrapped() -> None:
    assert isinstance(translate(ValueError("odd"), CREATE, "ns"), LaunchFailed)


def test_without_any_cluster_configuration_the_launcher_is_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No in-cluster token and no kubeconfig: a clear 503, not a library exception."""
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    with pytest.raises(LauncherUnavailable, match="no Kubernetes configuration"):
        KubernetesLauncher.from_settings(Settings(_env_file=None), {})
