"""`dispatcher`: telemetry through the control plane, against an embedded broker the bench owns.

1. Throughput. N telemetry messages for M queues (seq increasing per job) are produced to a
   fresh queue-control topic once, then read in three rounds from the same broker, each
   round both ways in turn (medians are reported, so a slow moment hits both):
   - baseline: a raw aiokafka consumer in its own group, getmany (same poll size as the
     dispatcher) + orjson.loads per message;
   - the real ControlPlane (Dispatcher, QueueService, SQLite store, event publisher, fan-out)
     in this process, its dispatcher in its own group and on a fresh store, until every
     message is applied.
   Consumer-group join is excluded the same way for both: a watcher polls the consumer's
   `assignment()` every millisecond and the clock starts when partitions are assigned
   (Tansu takes seconds to settle a group); it stops when the last message is counted
   (raw) or applied to the store (dispatcher, from its telemetry_consumed metric).
2. Produce-to-WebSocket latency (bench/fanout.py): the service's fan-out beside a bare
   broadcaster and a raw aiokafka consumer reading the same produced messages in the same
   run, with the same clients; targets are ratios to the bare broadcaster.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from app.aio import Supervisor
from app.bus.embedded import EmbeddedBroker
from app.bus.kafka import KafkaBus
from app.config import Settings
from app.control.dispatcher import FETCH_MAX_WAIT_MS, FETCH_MIN_BYTES, MAX_POLL_RECORDS
from app.control.plane import ControlPlane
from app.launchers.local import LocalLauncher
from app.launchers.targets import default_registry
from app.logging import configure_logging
from app.main import tune_garbage_collector
from app.metrics import Metrics
from app.models.queues import QueueCreate, QueueState
from app.services.changes import ChangeFeed
from app.services.pipeline import new_queue
from app.services.queue_service import QueueService
from app.store.sqlite import SqliteQueueStore
from bench.fanout import fanout_latency
from bench.fanout import rows as fanout_rows
from bench.report import Row

MESSAGES = 100_000
ROUNDS = 3
QUEUES = 100
TARGET_RATIO = 0.5
BASIC = {"symbol": "BTCUSDT", "type": "api", "time_range": "2024-01-01:2024-01-03"}


# --- 1. throughput -------------------------------------------------------------------------
def telemetry_messages(
    queues: list[tuple[str, list[str]]], count: int
) -> list[tuple[bytes, bytes]]:
    """(key, value) pairs: round-robin over queues and their jobs, seq increasing per job."""
    seqs: Counter[str] = Counter()
    out = []
    for n in range(count):
        queue_id, jobs = queues[n % len(queues)]
        job = jobs[(n // len(queues)) % len(jobs)]
        seqs[job] += 1
        value = {
            "type": "telemetry",
            "queue_id": queue_id,
            "job": job,
            "status": "loading",
            "records_written": seqs[job] * 100,
            "seq": seqs[job],
            "ts": "2024-06-01T00:00:00+00:00",
            "stats": {"sent": time.time()},
        }
        out.append((queue_id.encode(), orjson.dumps(value)))
    return out


async def produce_all(bus: KafkaBus, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    producer = bus.producer
    for key, value in messages:
        await producer.send(topic, value, key=key)
    await producer.flush()


async def assigned_at(consumer: AIOKafkaConsumer) -> float:
    """When the group coordinator gave the consumer its partitions (polled every ms)."""
    while not consumer.assignment():  # noqa: ASYNC110 (aiokafka has no assignment event)
        await asyncio.sleep(0.001)
    return time.perf_counter()


async def raw_rate(bus: KafkaBus, settings: Settings, count: int) -> float:
    consumer = bus.consumer(
        [settings.queue_control_topic],
        f"bench-raw-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=settings.kafka_max_message_bytes * 2,
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        fetch_min_bytes=FETCH_MIN_BYTES,
    )
    await consumer.start()
    try:
        watcher = asyncio.create_task(assigned_at(consumer))
        seen = 0
        while seen < count:
            batch = await consumer.getmany(timeout_ms=200, max_records=MAX_POLL_RECORDS)
            for records in batch.values():
                for record in records:
                    orjson.loads(record.value)
                    seen += 1
        ended = time.perf_counter()
        return count / (ended - await watcher)
    finally:
        await consumer.stop()


async def dispatcher_rate(
    settings: Settings, root: Path, count: int, store: SqliteQueueStore
) -> tuple[float, float]:
    """Messages/s from assignment until the last one is applied; and the applied fraction."""
    metrics = Metrics()
    supervisor = Supervisor()
    service = QueueService(
        store=store,
        launcher=LocalLauncher(default_registry(), root / "jobs", settings),
        feed=ChangeFeed(),
        metrics=metrics,
        job_env={},
        stop_grace_seconds=1,
    )
    plane = ControlPlane(settings, metrics, supervisor, service)
    grouped: list[AIOKafkaConsumer] = []
    make = plane.bus.consumer

    def capture(topics: Any, group_id: str | None, **opts: Any) -> AIOKafkaConsumer:
        consumer = make(topics, group_id, **opts)
        if group_id is not None:
            grouped.append(consumer)
        return consumer

    plane.bus.consumer = capture  # type: ignore[method-assign]
    consumed = metrics.telemetry_consumed
    plane.start()
    tune_garbage_collector()  # as the service's lifespan does once started
    try:
        while not grouped:  # noqa: ASYNC110
            await asyncio.sleep(0.001)
        started = await assigned_at(grouped[0])
        deadline = started + 120
        while _total(consumed) < count:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"dispatcher applied {_total(consumed):.0f} of {count}")
            await asyncio.sleep(0.002)
        ended = time.perf_counter()
        applied = metrics.registry.get_sample_value(
            "telemetry_consumed_total", {"result": "applied"}
        )
        assert applied is not None, "no telemetry was applied"
        return count / (ended - started), applied / count
    finally:
        await supervisor.close()
        await plane.close()


def _total(counter: Any) -> float:
    return float(
        sum(
            sample.value
            for metric in counter.collect()
            for sample in metric.samples
            if sample.name.endswith("_total")
        )
    )


async def throughput(bootstrap: str, root: Path, count: int, queues: int) -> dict[str, float]:
    """Produce once; then ROUNDS of raw and dispatcher in turn (each on a fresh store and
    fresh groups), so a slow moment of the machine hits both; medians are reported."""
    settings = _throughput_settings(bootstrap, root)
    created = [
        new_queue(QueueCreate.model_validate(BASIC), str(uuid.uuid4())) for _ in range(queues)
    ]
    bus = KafkaBus(settings)
    await bus.start()
    try:
        await bus.ensure_topics(
            [
                settings.queue_control_topic,
                settings.queue_events_topic,
                settings.queue_control_dlq_topic,
            ],
            settings.kafka_topic_partitions,
        )
        pairs = [(q.id, [job.name for job in q.jobs]) for q in created]
        await produce_all(bus, settings.queue_control_topic, telemetry_messages(pairs, count))
        rounds = [
            await _round(bus, settings, root / f"round-{n}.db", created, count)
            for n in range(ROUNDS)
        ]
    finally:
        await bus.stop()
    return {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}


def _throughput_settings(bootstrap: str, root: Path) -> Settings:
    tag = uuid.uuid4().hex[:8]
    return Settings(
        _env_file=None,
        kafka_bootstrap_servers=bootstrap,
        kafka_enable_idempotence=False,  # the embedded Tansu has no idempotent producers
        data_dir=root,
        queue_control_topic=f"bench-control-{tag}",
        queue_events_topic=f"bench-events-{tag}",
        queue_control_dlq_topic=f"bench-dlq-{tag}",
        log_level="WARNING",
    )


async def _round(
    bus: KafkaBus, settings: Settings, path: Path, created: list[QueueState], count: int
) -> dict[str, float]:
    raw = await raw_rate(bus, settings, count)
    store = SqliteQueueStore(path)
    await store.open()
    try:
        for queue in created:
            await store.create(queue)
        group = f"bench-dispatcher-{uuid.uuid4().hex[:8]}"
        rate, applied = await dispatcher_rate(
            settings.model_copy(update={"kafka_consumer_group": group}), path.parent, count, store
        )
    finally:
        await store.close()
    return {"raw": raw, "dispatcher": rate, "applied": applied}


# --- rows ----------------------------------------------------------------------------------
async def _measure(seconds: float) -> list[Row]:
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        broker = EmbeddedBroker(root / "tansu.log")
        bootstrap = await broker.start()
        try:
            figures = await throughput(bootstrap, root, MESSAGES, QUEUES)
            outcomes = await fanout_latency(bootstrap, root, seconds)
        finally:
            await broker.stop()
    raw, rate = figures["raw"], figures["dispatcher"]
    return [
        Row(
            "dispatcher",
            f"raw aiokafka consume + orjson, {MESSAGES:,} msgs, median of {ROUNDS}",
            raw,
            "msg/s",
        ),
        Row(
            "dispatcher",
            f"Dispatcher into SQLite, {MESSAGES:,} msgs / {QUEUES} queues, median of "
            f"{ROUNDS} ({figures['applied']:.0%} applied)",
            rate,
            "msg/s",
            raw,
            f">= {TARGET_RATIO:g} x raw",
            rate / raw >= TARGET_RATIO,
        ),
        *(row for outcome in outcomes for row in fanout_rows(outcome)),
    ]


def run(seconds: float = 5.0) -> list[Row]:
    return asyncio.run(_measure(seconds))
