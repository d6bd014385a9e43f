"""deploy/ is valid Kubernetes, consistent with the code, and grants only what is used."""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]

from app.config import Settings
from app.launchers import k8s_api
from app.launchers.k8s_errors import API_CALLS
from app.launchers.k8s_render import CA_SECRET_KEY, SECRET_KEYS

pytestmark = pytest.mark.timeout(30)
DEPLOY = Path(__file__).parents[2] / "deploy"
OVERLAY = DEPLOY / "overlays" / "example"
K8S_VERSION = kubernetes_validate.latest_version()
CRD_KINDS = {"ServiceMonitor"}  # custom resources: no schema in the Kubernetes OpenAPI


def load_listed(directory: Path) -> list[dict[str, Any]]:
    """Without kubectl: the YAML documents of every resource kustomization.yaml lists."""
    listing = yaml.safe_load((directory / "kustomization.yaml").read_text())
    documents: list[dict[str, Any]] = []
    for entry in listing.get("resources", []):
        path = directory / entry
        if path.is_dir():
            documents += load_listed(path)
        else:
            documents += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return documents


def render(directory: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize` when available (namespace, patches, images applied)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return load_listed(directory)
    output = subprocess.run(
        [kubectl, "kustomize", str(directory)],
        check=True,
        capture_output=True,
        text=True,
        timeout=20,
    ).stdout
    return [doc for doc in yaml.safe_load_all(output) if doc]


@pytest.fixture(scope="module")
def manifests() -> list[dict[str, Any]]:
    return render(OVERLAY)


def one(manifests: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [m for m in manifests if m["kind"] == kind and name in (None, m["metadata"]["name"])]
    assert len(found) == 1, (kind, name, len(found))
    return found[0]


def test_every_manifest_validates_against_the_kubernetes_schema(
    manifests: list[dict[str, Any]],
) -> None:
    kinds = {m["kind"] for m in manifests}
    assert {
        "Deployment",
        "Service",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "Secret",
        "ServiceMonitor",
        "Namespace",
    } <= kinds
    for manifest in manifests:
        if manifest["kind"] in CRD_KINDS:
            continue  # a CRD: validated by the Prometheus Operator's own schema, not here
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)


def test_the_listed_files_validate_without_kubectl_too() -> None:
    documents = load_listed(OVERLAY)
    assert len(documents) >= 9
    for manifest in documents:
        if manifest["kind"] not in CRD_KINDS:
            kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)


def test_the_role_grants_exactly_the_calls_the_launcher_makes(
    manifests: list[dict[str, Any]],
) -> None:
    granted = {
        (group, resource, verb)
        for rule in one(manifests, "Role")["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    used = {(call.group, call.resource, call.verb) for call in API_CALLS.values()}
    assert granted == used


def test_every_api_call_in_the_code_is_in_the_table() -> None:
    """k8s_api.py is the only place that calls the client; each call names its table entry."""
    tree = ast.parse(Path(k8s_api.__file__).read_text())
    named = {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("_run", "_json")
        and isinstance(node.args[0], ast.Constant)
    }
    assert named == set(API_CALLS)
    client_methods = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr in ("_batch", "_core")
    }
    assert client_methods <= set(API_CALLS) | {"list_namespaced_job"}


def test_the_deployment_runs_the_service_non_root_with_three_probes(
    manifests: list[dict[str, Any]],
) -> None:
    pod = one(manifests, "Deployment")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"] == ["queue-manager", "serve", "--host", "0.0.0.0", "--port", "8000"]
    assert container["image"] == "registry.example.com/streamforge/queue-manager:0.1.0"
    probes = {
        key: container[key]["httpGet"]["path"]
        for key in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert probes == {
        "startupProbe": "/health/startup",
        "livenessProbe": "/health/live",
        "readinessProbe": "/health/ready",
    }
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["serviceAccountName"] == "queue-manager"


def test_configmap_names_only_real_settings_and_no_secret(manifests: list[dict[str, Any]]) -> None:
    data = one(manifests, "ConfigMap")["data"]
    settings = {name.upper() for name in Settings.model_fields}
    assert set(data) <= settings
    assert data["JOB_LAUNCHER"] == "kubernetes"
    assert data["K8S_JOB_IMAGE"].endswith(":0.1.0")
    assert not set(data) & (set(SECRET_KEYS) | {"API_TOKENS"})


def test_secret_keys_match_what_the_service_and_jobs_read(manifests: list[dict[str, Any]]) -> None:
    secret = one(manifests, "Secret")
    expected = {*SECRET_KEYS, "API_TOKENS", CA_SECRET_KEY}
    assert set(secret["stringData"]) == expected
    env = one(manifests, "Deployment")["spec"]["template"]["spec"]["containers"][0]["env"]
    referenced = {
        item["valueFrom"]["secretKeyRef"]["key"]
        for item in env
        if "secretKeyRef" in item.get("valueFrom", {})
    }
    assert referenced == expected - {CA_SECRET_KEY}
    config = one(manifests, "ConfigMap")["data"]
    assert secret["metadata"]["name"] == config["K8S_SECRET_NAME"]


def test_the_jobs_service_account_exists(manifests: list[dict[str, Any]]) -> None:
    name = one(manifests, "ConfigMap")["data"]["K8S_SERVICE_ACCOUNT"]
    assert one(manifests, "ServiceAccount", name)["automountServiceAccountToken"] is False
