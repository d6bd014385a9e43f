"""Pipeline requests: one job each, validated per target (seed 002 examples)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from app.models.attempts import RetryPolicy
from app.models.catalog import (
    GNN_TRAINER_TYPES,
    GRAPH_BUILDER_TYPES,
    VISUALIZER_TYPES,
    Target,
    interval_of,
)
from app.models.problems import FieldProblem

CollectionName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$"),
    Field(description="ArangoDB collection: a letter, then up to 63 letters, digits, _ or -"),
]
JobType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,47}$", max_length=48)]
Interval = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,2}[smhdwM]$|^[MHDWQm][0-9]{1,2}$")]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: JobType
    depends_on: list[Annotated[int, Field(ge=0)]] | None = Field(
        default=None,
        max_length=20,
        description="Indexes into `requests` this one waits for; inferred from names when absent",
    )
    retry: RetryPolicy | None = Field(
        default=None, description="Retries of a failed job; the target's default when absent"
    )


class LoaderRequest(_Request):
    """Loads market data from an exchange into the queue's Kafka topic."""

    target: Literal[Target.LOADER_PRODUCER]
    interval: Interval | None = Field(
        default=None, description="Candle interval; must agree with the type's interval"
    )

    @model_validator(mode="after")
    def _interval_matches_type(self) -> LoaderRequest:
        named = interval_of(self.type)
        if self.interval is not None and named is not None and named != self.interval:
            raise FieldProblem("interval", f"{self.interval!r} disagrees with type {self.type!r}")
        return self


class ConnectorRequest(_Request):
    """Copies a loader's topic into an ArangoDB collection (type names the loader's type)."""

    target: Literal[Target.ARANGO_CONNECTOR]
    collection: CollectionName | None = Field(
        default=None, description="Target collection; derived from symbol, type and range"
    )


class GraphBuilderRequest(_Request):
    target: Literal[Target.GRAPH_BUILDER]
    collection_inputs: list[CollectionName] = Field(min_length=1, max_length=20)
    collection_output: CollectionName

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        return _require_type(value, GRAPH_BUILDER_TYPES)


class GnnTrainerRequest(_Request):
    target: Literal[Target.GNN_TRAINER]
    graph_collection: CollectionName
    model_output: CollectionName | None = None
    inference_interval: Interval | None = None

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        return _require_type(value, GNN_TRAINER_TYPES)

    @model_validator(mode="after")
    def _training_names_its_output(self) -> GnnTrainerRequest:
        if self.type == "gnn_train" and self.model_output is None:
            raise FieldProblem("model_output", "required when type is gnn_train")
        return self


class VisualizerRequest(_Request):
    target: Literal[Target.VISUALIZER]
    source: CollectionName

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        return _require_type(value, VISUALIZER_TYPES)


def _require_type(job_type: str, allowed: tuple[str, ...]) -> str:
    if job_type not in allowed:
        raise ValueError(f"unknown type {job_type!r}; expected one of {', '.join(allowed)}")
    return job_type


PipelineRequest = Annotated[
    LoaderRequest | ConnectorRequest | GraphBuilderRequest | GnnTrainerRequest | VisualizerRequest,
    Field(discriminator="target"),
]
