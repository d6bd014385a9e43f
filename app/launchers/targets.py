"""The target registry: how each target runs (configuration, not code).

Defaults cover every target of seed 002. Targets this repository ships run as
`python -m app.workers TARGET` (the local launcher runs a leading `python` as
the service's own interpreter); the ML targets are external images with no local command
until TARGETS_FILE registers one. TARGETS_FILE (JSON) overrides entries by target name.

Each target names the secrets its jobs get (`secrets`): the loader Kafka and MOEX, the
connector and the ML images Kafka and ArangoDB; a target registered in TARGETS_FILE gets
only Kafka's unless it lists more. API tokens are never among them.

Each target names how its failed jobs are retried (`retry`, a RetryPolicy): the loader and
the connector retry (a dropped connection should not end a month-long load), the ML
targets do not. An entry of TARGETS_FILE replaces the whole entry: without `retry` its
jobs are not retried. A request's own `retry` overrides its target's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, Field, TypeAdapter

from app.errors import InvalidInput
from app.models.attempts import NO_RETRY, RetryPolicy
from app.models.catalog import Target

SecretName = Literal[
    "KAFKA_USER", "KAFKA_PASSWORD", "ARANGO_USER", "ARANGO_PASSWORD", "MOEX_LOGIN", "MOEX_PASSCODE"
]
SECRET_NAMES: tuple[SecretName, ...] = get_args(SecretName)
"""Every secret a job may get: keys of the Secret K8S_SECRET_NAME, named as the variables."""
KAFKA_SECRETS: list[SecretName] = ["KAFKA_USER", "KAFKA_PASSWORD"]
ARANGO_SECRETS: list[SecretName] = ["ARANGO_USER", "ARANGO_PASSWORD"]
MOEX_SECRETS: list[SecretName] = ["MOEX_LOGIN", "MOEX_PASSCODE"]
DATA_RETRY = RetryPolicy(limit=3, backoff_seconds=10.0, factor=2.0, max_backoff_seconds=600.0)
"""The loader's and the connector's default: exchanges and brokers drop connections."""


class Resources(BaseModel):
    cpu_request: str = "100m"
    cpu_limit: str = "1"
    memory_request: str = "128Mi"
    memory_limit: str = "512Mi"


class TargetSpec(BaseModel):
    command: list[str] | None = Field(
        default=None, description="argv of the job; None means not runnable locally"
    )
    image: str | None = Field(default=None, description="container image; default K8S_JOB_IMAGE")
    resources: Resources = Field(default_factory=Resources)
    env: dict[str, str] = Field(
        default_factory=dict, description="extra non-secret environment of this target's jobs"
    )
    secrets: list[SecretName] = Field(
        default_factory=lambda: list(KAFKA_SECRETS),
        description="secret variables its jobs get (from K8S_SECRET_NAME in a cluster)",
    )
    retry: RetryPolicy = Field(
        default=NO_RETRY, description="how its failed jobs are retried; a request's retry wins"
    )


def _own_job(target: Target, secrets: list[SecretName]) -> TargetSpec:
    command = ["python", "-m", "app.workers", target.value]
    return TargetSpec(command=command, secrets=secrets, retry=DATA_RETRY)


def _image(target: Target) -> TargetSpec:
    return TargetSpec(
        image=f"registry.example.com/streamforge/{target.value}",
        secrets=KAFKA_SECRETS + ARANGO_SECRETS,
    )


def default_registry() -> dict[str, TargetSpec]:
    return {
        Target.LOADER_PRODUCER: _own_job(Target.LOADER_PRODUCER, KAFKA_SECRETS + MOEX_SECRETS),
        Target.ARANGO_CONNECTOR: _own_job(Target.ARANGO_CONNECTOR, KAFKA_SECRETS + ARANGO_SECRETS),
        Target.GRAPH_BUILDER: _image(Target.GRAPH_BUILDER),
        Target.GNN_TRAINER: _image(Target.GNN_TRAINER),
        Target.VISUALIZER: _image(Target.VISUALIZER),
    }


_FILE = TypeAdapter(dict[Target, TargetSpec])


def retry_defaults(registry: dict[str, TargetSpec]) -> dict[str, RetryPolicy]:
    """Each target's retry policy, for the queue service (app/services/retrying.py)."""
    return {target: spec.retry for target, spec in registry.items()}


def load_registry(path: Path | None) -> dict[str, TargetSpec]:
    """Defaults, overridden by the entries of TARGETS_FILE when it is set."""
    registry = default_registry()
    if path is None:
        return registry
    try:
        overrides = _FILE.validate_json(path.read_bytes())
    except (OSError, ValueError) as error:
        raise InvalidInput(f"TARGETS_FILE {path}: {error}") from error
    registry.update({target.value: spec for target, spec in overrides.items()})
    return registry


def not_runnable_locally(target: str, entry: TargetSpec | None) -> str | None:
    """Why local processes cannot run `target` (None when they can): no command."""
    if entry is not None and entry.command:
        return None
    example = f'{{"{target}": {{"command": ["python", "-m", "your_package.{_module(target)}"]}}}}'
    return (
        f"{target} has no command in the target registry, and this service runs jobs as "
        f"local processes: give it one in TARGETS_FILE, e.g. {example}"
    )


def not_runnable_in_cluster(target: str, entry: TargetSpec | None) -> str | None:
    """Why a Kubernetes Job cannot run `target` (None when it can): no image, no command."""
    if entry is not None and (entry.image or entry.command):
        return None
    example = f'{{"{target}": {{"image": "registry.example.com/streamforge/{target}:1.0"}}}}'
    return (
        f"{target} has neither an image nor a command in the target registry: give it one "
        f"in TARGETS_FILE, e.g. {example}"
    )


def _module(target: str) -> str:
    return target.replace("-", "_")
