"""Kafka message schemas (design brief, "Kafka queue-control" and "queue-events")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.models.queues import QueueCreate, utcnow
from app.models.status import Status

Id = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Text = Annotated[str, StringConstraints(max_length=4000)]


class Telemetry(BaseModel):
    """A job's report of itself; `seq` is monotonic per job, so late copies are ignored."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["telemetry"] = "telemetry"
    queue_id: Id
    job: Id
    status: Status
    records_written: int | None = Field(default=None, ge=0)
    last_loaded_timestamp: Annotated[str, StringConstraints(max_length=64)] | None = None
    error_message: Text | None = None
    finished_at: datetime | None = None
    seq: int = Field(ge=0)
    ts: datetime | None = Field(default=None, description="When the job sent it")
    stats: dict[str, Any] | None = Field(
        default=None,
        description="Live figures of stream jobs (connections, per-ticker prices) for monitors",
    )


class StartCommand(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["command"] = "command"
    command: Literal["start"] = "start"
    command_id: Id
    payload: QueueCreate


class StopCommand(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["command"] = "command"
    command: Literal["stop"] = "stop"
    command_id: Id
    queue_id: Id


Command = Annotated[StartCommand | StopCommand, Field(discriminator="command")]
ControlMessage = Annotated[Telemetry | Command, Field(discriminator="type")]


class QueueEvent(BaseModel):
    """One queue status change, published on queue-events and sent to WebSocket clients."""

    event: str
    queue_id: str
    status: Status
    ts: datetime = Field(default_factory=utcnow)
    data: dict[str, Any] = Field(default_factory=dict)
