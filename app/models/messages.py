"""Kafka message schemas (design brief, "Kafka queue-control" and "queue-events")."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from app.errors import InvalidMessage
from app.models.coverage import SERIES_KINDS
from app.models.gaps import INT64_MAX, MAX_GAPS_REPORTED, Gap
from app.models.queues import QueueCreate, utcnow
from app.models.status import Status
from app.models.weight import RestWeightReport

Id = Annotated[str, StringConstraints(min_length=1, max_length=128)]
MsgspecId = Annotated[str, Meta(min_length=1, max_length=128)]
NonNegative = Annotated[int, Meta(ge=0, le=INT64_MAX)]


class RetryReport(Struct, kw_only=True, gc=False):
    """What a job retries now: sent in every report while it retries, absent once it works."""

    attempt: Annotated[int, Meta(ge=1, le=INT64_MAX)]
    max_attempts: Annotated[int, Meta(ge=1, le=INT64_MAX)] | None = None
    last_error: Annotated[str, Meta(max_length=1000)]
    retry_at: datetime | None = None


class Telemetry(Struct, tag_field="type", tag="telemetry", kw_only=True, gc=False):
    """A job's report of itself; `seq` is monotonic per job, so late copies are ignored.

    A msgspec Struct, not a pydantic model: it is the one message that arrives by the
    thousand per second, and msgspec validates it about five times faster and frees it
    cheaper (see the dispatcher benchmark). Unknown fields are ignored; strings coerce to
    numbers and datetimes as pydantic's lax mode did (`decode_control`). Not tracked by
    the garbage collector: it holds plain data only, so it is in no reference cycle.
    """

    queue_id: MsgspecId
    job: MsgspecId
    status: Status
    records_written: NonNegative | None = None
    last_loaded_timestamp: Annotated[str, Meta(max_length=64)] | None = None
    error_message: Annotated[str, Meta(max_length=4000)] | None = None
    finished_at: datetime | None = None
    seq: NonNegative
    ts: Annotated[datetime | None, Meta(description="When the job sent it")] = None
    retry: Annotated[
        RetryReport | None, Meta(description="Set while the job retries; its health")
    ] = None
    gaps_detected: NonNegative | None = None
    gaps_open: NonNegative | None = None
    records_backfilled: NonNegative | None = None
    gaps: (
        Annotated[
            list[Gap],
            Meta(
                max_length=MAX_GAPS_REPORTED,
                description="Stream jobs: their open gaps, then the latest filled ones",
            ),
        ]
        | None
    ) = None
    stats: Annotated[
        dict[str, Any] | None,
        Meta(
            description="Live figures of stream jobs (connections, per-ticker prices) for monitors",
        ),
    ] = None
    rest_weight: Annotated[
        RestWeightReport | None, Meta(description="A Binance loader's REST weight share and use")
    ] = None
    attempt: (
        Annotated[int, Meta(ge=1, le=INT64_MAX, description="The attempt that reports")] | None
    ) = None
    max_attempts: (
        Annotated[int, Meta(ge=1, le=INT64_MAX, description="Attempts its policy allows")] | None
    ) = None

    @property
    def retried(self) -> bool:
        """A failure the service tries again (attempts left): not the job's end."""
        if self.status != Status.ERROR or self.attempt is None:
            return False
        return self.max_attempts is not None and self.attempt < self.max_attempts


MAX_COVERAGE_DAYS = 500
MAX_RUNS_PER_DAY = 10_000
Int = Annotated[int, Meta(ge=-INT64_MAX, le=INT64_MAX)]
CoveredSymbol = Annotated[str, Meta(pattern=r"^[A-Z0-9_]{2,24}$")]
CoveredExchange = Literal["binance", "binance-futures"]
"""COVERED_EXCHANGES (app/models/coverage.py)."""


class CoverageDay(Struct, kw_only=True, gc=False):
    """What one connector wrote of one series in one UTC day (docs/architecture.md,
    "Coverage"): its runs `[first, last, from_ms, to_ms]` so far and its records' times."""

    exchange: CoveredExchange
    symbol: CoveredSymbol
    data_type: Annotated[str, Meta(max_length=32)]
    day: date
    runs: Annotated[list[tuple[Int, Int, Int, Int]], Meta(max_length=MAX_RUNS_PER_DAY)]
    first_ms: Int | None = None
    last_ms: Int | None = None

    def __post_init__(self) -> None:
        _check_data_type(self.data_type)
        if any(first > last for first, last, _, _ in self.runs):
            raise ValueError("a run's first key is after its last")


class CoverageFailure(Struct, kw_only=True, gc=False):
    """The load ended failed: every day of first_day..last_day of these series had its chance."""

    exchange: CoveredExchange
    symbols: Annotated[list[CoveredSymbol], Meta(min_length=1, max_length=2000)]
    data_type: Annotated[str, Meta(max_length=32)]
    first_day: date
    last_day: date
    reason: Annotated[str, Meta(max_length=1000)]

    def __post_init__(self) -> None:
        _check_data_type(self.data_type)
        if not 0 <= (self.last_day - self.first_day).days <= 3660:
            raise ValueError("first_day..last_day must be in order and at most 3660 days")


class CoverageReport(Struct, tag_field="type", tag="coverage", kw_only=True, gc=False):
    """An arango-connector's report of what it wrote, per series and day, and whether its
    load failed. Merged as a union: redelivered or out-of-order reports change nothing."""

    queue_id: MsgspecId
    job: MsgspecId
    collection: Annotated[str, Meta(pattern=r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")]
    days: Annotated[list[CoverageDay], Meta(max_length=MAX_COVERAGE_DAYS)]
    failed: CoverageFailure | None = None
    ts: datetime | None = None


def _check_data_type(data_type: str) -> None:
    if data_type not in SERIES_KINDS:
        raise ValueError(f"unknown data_type {data_type!r}")


class CommandHeader(Struct, tag_field="type", tag="command"):
    """Only routes a command to its pydantic model below: commands are rare and carry a
    QueueCreate, so they keep the REST API's validation and error messages."""


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


class WeightShareCommand(BaseModel):
    """The service to one loader: pace your REST requests to `share` weight per minute.
    The highest `version` wins (a late copy of an older share changes nothing)."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["command"] = "command"
    command: Literal["weight_share"] = "weight_share"
    command_id: Id
    queue_id: Id
    job: Id
    market: Id
    share: int = Field(ge=1, description="weight per minute this job may send")
    budget: int = Field(ge=1, description="the market's whole budget")
    loaders: int = Field(ge=1, description="how many loaders share it")
    version: int = Field(ge=1, le=INT64_MAX)


Command = Annotated[StartCommand | StopCommand | WeightShareCommand, Field(discriminator="command")]
ControlMessage = Telemetry | CoverageReport | StartCommand | StopCommand | WeightShareCommand
_ROUTER = msgspec.json.Decoder(Telemetry | CoverageReport | CommandHeader, strict=False)
_TELEMETRY = msgspec.json.Decoder(Telemetry, strict=False)
_COMMAND: TypeAdapter[StartCommand | StopCommand | WeightShareCommand] = TypeAdapter(Command)


def decode_control(raw: bytes, max_bytes: int | None = None) -> ControlMessage:
    """A queue-control record as telemetry or a command; InvalidMessage says why not
    (`too_large` over KAFKA_MAX_MESSAGE_BYTES, before any decoding). The dispatcher and the
    WebSocket fan-out both decode with this, so clients see only what the dispatcher takes."""
    if max_bytes is not None and len(raw) > max_bytes:
        raise InvalidMessage("too_large", f"{len(raw)} bytes, over the {max_bytes}-byte limit")
    try:
        routed = _ROUTER.decode(raw)
    except msgspec.DecodeError as error:
        raise _invalid(error) from error
    if isinstance(routed, Telemetry | CoverageReport):
        return routed
    try:
        return _COMMAND.validate_json(raw)
    except PydanticValidationError as error:
        raise InvalidMessage("invalid", _first_problem(error)) from error


def decode_telemetry(raw: bytes) -> Telemetry:
    """One telemetry record (a job watching another job's reports)."""
    try:
        return _TELEMETRY.decode(raw)
    except msgspec.DecodeError as error:
        raise _invalid(error) from error


def _first_problem(error: PydanticValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{first['msg']} - at `{where}`" if where else str(first["msg"])


def _invalid(error: msgspec.DecodeError) -> InvalidMessage:
    """msgspec's ValidationError is a DecodeError too: well-formed JSON of the wrong shape."""
    reason = "invalid" if isinstance(error, msgspec.ValidationError) else "not_json"
    return InvalidMessage(reason, str(error))


class QueueEvent(BaseModel):
    """One queue status change, published on queue-events and sent to WebSocket clients.
    The schema of record; app/control/events.py encodes it by hand, byte for byte the same."""

    event: str
    queue_id: str
    status: Status
    ts: datetime = Field(default_factory=utcnow)
    data: dict[str, Any] = Field(default_factory=dict)
