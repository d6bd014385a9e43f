"""QueueCreate (what a client asks for) and QueueState / JobState (what the store keeps)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    TypeAdapter,
    field_validator,
    model_validator,
)

from app.models import examples
from app.models.attempts import Attempt
from app.models.catalog import (
    SYMBOL_HINTS,
    SYMBOL_PATTERNS,
    Exchange,
    SourceType,
    Target,
    is_stream,
    loader_type_error,
)
from app.models.dependencies import Edges, Naming, check_edges, edges_of
from app.models.gaps import Gap
from app.models.health import Health
from app.models.problems import FieldProblem
from app.models.requests import ConnectorRequest, LoaderRequest, PipelineRequest
from app.models.status import Status
from app.models.weight import RestWeight
from app.naming import period_suffix

MAX_SYMBOLS = 2000
MAX_REQUESTS = 20
MAX_RANGE_DAYS = 3660
Symbol = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, max_length=24)]
TimeRange = Annotated[str, StringConstraints(max_length=21)]


def fixed_width_utc(moment: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS.ffffffZ` always: stores sort queues by this string, and the
    default JSON form drops a zero fraction, which sorts a whole second after its own
    later microseconds (`...05Z` > `...05.000001Z`)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


SortableTime = Annotated[datetime, PlainSerializer(fixed_width_utc, when_used="json")]


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_time_range(value: str) -> tuple[date, date]:
    """`YYYY-MM-DD:YYYY-MM-DD` -> (start, end); ValueError says what is wrong."""
    parts = value.split(":")
    if len(parts) != 2:
        raise ValueError("expected 'YYYY-MM-DD:YYYY-MM-DD'")
    start, end = (_parse_day(p, which) for p, which in zip(parts, ("start", "end"), strict=True))
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    if (end - start).days > MAX_RANGE_DAYS:
        raise ValueError(f"range longer than {MAX_RANGE_DAYS} days")
    if end == date.max:
        raise ValueError(f"end {end} is too late: load windows end on the day after it")
    return start, end


def _parse_day(text: str, which: str) -> date:
    try:
        return date.fromisoformat(text) if len(text) == 10 else _bad_day(text, which)
    except ValueError:
        return _bad_day(text, which)


def _bad_day(text: str, which: str) -> date:
    raise ValueError(f"{which} date {text!r} is not a real date in YYYY-MM-DD form")


class QueueCreate(BaseModel):
    """A pipeline run to start. Without `requests`, a default pipeline follows from `type`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [examples.SHORT, examples.HISTORICAL, examples.REALTIME]},
    )

    exchange: Exchange = Exchange.BINANCE
    symbol: Symbol | None = Field(default=None, description="Ticker, like BTCUSDT or SBER")
    symbols: list[Symbol] = Field(
        default_factory=list, max_length=MAX_SYMBOLS, description="Tickers of a multi-ticker load"
    )
    type: SourceType | None = Field(default=None, description="api | ws | rest")
    time_range: TimeRange = Field(description="YYYY-MM-DD:YYYY-MM-DD, start <= end")
    requests: list[PipelineRequest] = Field(default_factory=list, max_length=MAX_REQUESTS)

    @field_validator("time_range")
    @classmethod
    def _real_dates(cls, value: str) -> str:
        """Real dates, and dates the derived names (topics, collections) can be made of."""
        start, end = parse_time_range(value)
        try:
            period_suffix(start, end)
        except (ValueError, OverflowError) as error:
            raise ValueError(f"no topic or collection name can be derived: {error}") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> QueueCreate:
        self._check_symbols()
        if self.type is None and not self.requests:
            raise FieldProblem("type", "required when no requests are given (api, ws or rest)")
        if self.exchange is Exchange.MOEX and self.type in (SourceType.API, SourceType.REST):
            raise FieldProblem("type", "moex offers only streams: use type ws")
        self._check_requests()
        check_edges(self.edges())
        return self

    def _check_symbols(self) -> None:
        if self.symbol is None and not self.symbols:
            raise FieldProblem("symbol", "give symbol or symbols")
        pattern, hint = SYMBOL_PATTERNS[self.exchange], SYMBOL_HINTS[self.exchange]
        if self.symbol is not None and not pattern.match(self.symbol):
            raise FieldProblem("symbol", f"{self.symbol!r} is not a {self.exchange} symbol: {hint}")
        for index, symbol in enumerate(self.symbols):
            if not pattern.match(symbol):
                raise FieldProblem(f"symbols[{index}]", f"{symbol!r} is not valid: {hint}")

    def _check_requests(self) -> None:
        seen: dict[tuple[str, str], int] = {}
        for index, request in enumerate(self.requests):
            key = (request.target, request.type)
            if key in seen:
                raise FieldProblem(f"requests[{index}]", f"repeats requests[{seen[key]}]")
            seen[key] = index
            if isinstance(request, LoaderRequest | ConnectorRequest):
                reason = loader_type_error(self.exchange, request.type)
                if reason:
                    raise FieldProblem(f"requests[{index}].type", reason)

    def edges(self) -> Edges:
        """For each request, the indexes of those it waits for (app/models/dependencies.py)."""
        if not self.requests:
            return []
        try:
            days: tuple[date, date] | None = parse_time_range(self.time_range)
        except ValueError:  # a schedule's relative range: resolved per slot
            days = None
        return edges_of(self.requests, Naming(self.all_symbols, self.exchange, days))

    @property
    def all_symbols(self) -> list[str]:
        """Every ticker of the queue, `symbol` first, without repeats."""
        ordered = ([self.symbol] if self.symbol else []) + self.symbols
        return list(dict.fromkeys(ordered))

    @property
    def source_type(self) -> SourceType:
        """The explicit type, else `ws` when any loader streams, else `api`."""
        if self.type is not None:
            return self.type
        streams = any(
            r.target is Target.LOADER_PRODUCER and is_stream(r.type) for r in self.requests
        )
        return SourceType.WS if streams else SourceType.API


class JobState(BaseModel):
    """One request of a queue, run as one job."""

    name: str
    target: Target
    type: str
    status: Status = Status.PENDING
    records_written: int = 0
    last_loaded_timestamp: str | None = None
    error_message: str | None = None
    kafka_topic: str | None = None
    collection: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    seq: int = Field(default=-1, description="Last applied telemetry sequence number")
    launcher_ref: str | None = Field(default=None, description="pid or Kubernetes uid")
    request: dict[str, Any] = Field(default_factory=dict)
    health: Health = Field(default_factory=Health, description="ok, retrying or stalled")
    last_telemetry_at: datetime | None = Field(
        default=None, description="When the job last reported (the stall rule)"
    )
    gaps_detected: int = Field(default=0, description="Stream jobs: gaps found in the stream")
    gaps_open: int = Field(default=0, description="Stream jobs: gaps not (yet) backfilled")
    records_backfilled: int = Field(default=0, description="Records written by backfills")
    gaps: list[Gap] = Field(
        default_factory=list,
        description="The job's open gaps, then the latest filled ones, as it last reported",
    )
    rest_weight: RestWeight | None = Field(
        default=None, description="A Binance loader's share of the REST weight budget, its use"
    )
    depends_on: list[str] = Field(
        default_factory=list, description="Names of the jobs whose output this one needs"
    )
    waiting_for: str | None = Field(
        default=None, description="Why a pending job has not started: an input or a slot"
    )
    attempt: int = Field(default=0, description="The current attempt (0: not started yet)")
    attempts: list[Attempt] = Field(default_factory=list, description="Every attempt so far")
    not_before: datetime | None = Field(
        default=None, description="A job waiting to retry starts no earlier than this"
    )


class ScheduleRef(BaseModel):
    """The schedule that made a queue, and for which slot."""

    id: str
    name: str
    slot: datetime = Field(description="the cron time the queue belongs to (UTC)")
    manual: bool = Field(default=False, description="run now, not a cron slot")


class QueueState(BaseModel):
    """A queue as stored and served: seed 002's fields plus its jobs."""

    id: str
    symbol: str
    symbols: list[str] = Field(default_factory=list)
    exchange: Exchange = Exchange.BINANCE
    type: SourceType
    status: Status = Status.PENDING
    loader_type: str = Field(description="job (history), stream or connector")
    time_range: str
    start_time: str | None = None
    end_time: str | None = None
    last_loaded_timestamp: str | None = None
    records_written: int = 0
    error_message: str | None = None
    kafka_topic: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    created_at: SortableTime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    stop_requested: bool = False
    stop_reason: str | None = Field(
        default=None, description="Why the queue was stopped when not on request"
    )
    command_id: str | None = None
    schedule: ScheduleRef | None = Field(default=None, description="set when a schedule made it")
    revision: int = 0
    health: Health = Field(
        default_factory=Health,
        description="the worst of its running jobs, or degraded: one job failed",
    )
    gaps_detected: int = Field(default=0, description="Gaps its stream jobs found")
    gaps_open: int = Field(default=0, description="Of those, not (yet) backfilled")
    records_backfilled: int = Field(default=0, description="Records written by backfills")
    jobs: list[JobState] = Field(default_factory=list)

    def job(self, name: str) -> JobState | None:
        return next((job for job in self.jobs if job.name == name), None)


_QUEUE_JSON: TypeAdapter[QueueState] = TypeAdapter(QueueState)


def queue_json(queue: QueueState) -> bytes:
    """The queue's JSON document, straight to bytes: a third faster than orjson over
    model_dump, and byte for byte the same."""
    return _QUEUE_JSON.dump_json(queue)


def queue_from_json(document: bytes | str) -> QueueState:
    return _QUEUE_JSON.validate_json(document)
