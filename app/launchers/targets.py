"""The target registry: how each target runs (configuration, not code).

Defaults cover every target of seed 002. Targets this repository ships run as
`python -m app.workers TARGET` (the local launcher runs a leading `python` as
the service's own interpreter); the ML targets are external images with no local command
until TARGETS_FILE registers one. TARGETS_FILE (JSON) overrides entries by target name.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, TypeAdapter

from app.errors import InvalidInput
from app.models.catalog import Target


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


def _own_job(target: Target) -> TargetSpec:
    return TargetSpec(command=["python", "-m", "app.workers", target.value])


def default_registry() -> dict[str, TargetSpec]:
    return {
        Target.LOADER_PRODUCER: _own_job(Target.LOADER_PRODUCER),
        Target.ARANGO_CONNECTOR: _own_job(Target.ARANGO_CONNECTOR),
        Target.GRAPH_BUILDER: TargetSpec(image="registry.example.com/streamforge/graph-builder"),
        Target.GNN_TRAINER: TargetSpec(image="registry.example.com/streamforge/gnn-trainer"),
        Target.VISUALIZER: TargetSpec(image="registry.example.com/streamforge/visualizer"),
    }


_FILE = TypeAdapter(dict[Target, TargetSpec])


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
