"""What one connector job does, derived from its environment: topic, collection, group."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.errors import InvalidInput
from app.models.catalog import Target, is_stream
from app.naming import job_name
from app.workers.base import JobEnv
from app.workers.connector.documents import valid_collection


class ConnectorSettings(BaseSettings):
    """The connector's own variables (COLLECTION is set by the service)."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    collection: str = ""
    connector_batch_size: int = Field(default=500, ge=1, le=10_000)
    connector_poll_ms: int = Field(default=200, ge=10, le=10_000)
    connector_busy_timeout_ms: int = Field(default=10_000, ge=0, le=600_000)
    history_give_up_seconds: float = Field(default=120.0, gt=0, le=86_400)
    """A bounded load ends in error once its store has refused writes this long."""


@dataclass(frozen=True)
class ConnectorPlan:
    topic: str
    collection: str
    group: str
    batch_size: int
    poll_ms: int
    loader_job: str | None
    """The loader whose end ends this connector; None for streams (run until stopped)."""
    give_up_seconds: float | None = None
    """How long store writes are retried: bounded loads give up, streams never."""


def plan_of(env: JobEnv, settings: ConnectorSettings) -> ConnectorPlan:
    if not env.kafka_topic:
        raise InvalidInput("KAFKA_TOPIC is not set: the connector has nothing to read")
    named = settings.collection or str(env.request.get("collection") or "") or env.kafka_topic
    loader = job_name(env.queue_id, Target.LOADER_PRODUCER, env.job_type)
    return ConnectorPlan(
        topic=env.kafka_topic,
        collection=valid_collection(named),
        group=f"connector-{env.queue_id}-{env.job_name}",
        batch_size=settings.connector_batch_size,
        poll_ms=settings.connector_poll_ms,
        loader_job=None if is_stream(env.job_type) else loader,
        give_up_seconds=None if is_stream(env.job_type) else settings.history_give_up_seconds,
    )
