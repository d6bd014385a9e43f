"""From a QueueCreate to the queue's jobs: the default pipeline and per-job names.

Default pipeline (a QueueCreate without `requests`): a loader and a connector of one type,
  - api / rest on Binance: api_candles_1m;
  - ws on Binance:          ws_trades;
  - ws on MOEX:             ws_candles (interval M1).
"""

from __future__ import annotations

from app import naming
from app.models.catalog import Exchange, SourceType, Target
from app.models.queues import JobState, QueueCreate, QueueState, parse_time_range
from app.models.requests import ConnectorRequest, LoaderRequest, PipelineRequest
from app.services.readiness import waiting_sentence
from app.services.scheduling import ADMISSION

_DEFAULT_TYPES = {
    (Exchange.MOEX, SourceType.WS): "ws_candles",
    (Exchange.BINANCE, SourceType.WS): "ws_trades",
    (Exchange.BINANCE_FUTURES, SourceType.WS): "ws_trades",
}
_HISTORY_DEFAULT = "api_candles_1m"
_LOADER_TYPE = {SourceType.API: "job", SourceType.REST: "job", SourceType.WS: "stream"}


def pipeline_of(create: QueueCreate) -> list[PipelineRequest]:
    """The requests as given, or the default pipeline for the queue's type."""
    if create.requests:
        return list(create.requests)
    job_type = _DEFAULT_TYPES.get((create.exchange, create.source_type), _HISTORY_DEFAULT)
    return [
        LoaderRequest(target=Target.LOADER_PRODUCER, type=job_type),
        ConnectorRequest(target=Target.ARANGO_CONNECTOR, type=job_type),
    ]


def new_queue(create: QueueCreate, queue_id: str, command_id: str | None = None) -> QueueState:
    """A pending queue with one pending job per request, each naming the jobs it waits
    for (app/models/dependencies.py) and saying so."""
    jobs = [_job_of(create, queue_id, request) for request in pipeline_of(create)]
    for job, upstream in zip(jobs, create.edges(), strict=False):
        job.depends_on = [jobs[index].name for index in upstream]
    for job in jobs:
        producers = [j for j in jobs if j.name in job.depends_on]
        job.waiting_for = waiting_sentence(producers) if producers else ADMISSION
    start, end = create.time_range.split(":")
    symbols = create.all_symbols
    return QueueState(
        id=queue_id,
        symbol=symbols[0],
        symbols=symbols,
        exchange=create.exchange,
        type=create.source_type,
        loader_type=_LOADER_TYPE[create.source_type],
        time_range=create.time_range,
        start_time=start,
        end_time=end,
        kafka_topic=next((job.kafka_topic for job in jobs if job.kafka_topic), None),
        command_id=command_id,
        jobs=jobs,
    )


def _job_of(create: QueueCreate, queue_id: str, request: PipelineRequest) -> JobState:
    topic = collection = None
    if isinstance(request, LoaderRequest | ConnectorRequest):
        start, end = parse_time_range(create.time_range)
        topic = naming.data_name(create.all_symbols, create.exchange, request.type, start, end)
        collection = getattr(request, "collection", None) or topic
    return JobState(
        name=naming.job_name(queue_id, request.target, request.type),
        target=request.target,
        type=request.type,
        kafka_topic=topic,
        collection=collection if request.target is Target.ARANGO_CONNECTOR else None,
        request=request.model_dump(mode="json", exclude_none=True),
    )
