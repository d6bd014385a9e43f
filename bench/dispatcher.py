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
2. Produce-to-WebSocket latency. The service runs as its own process (uvicorn, like
   bench/servers.py) on the same broker; a producer process sends telemetry at a fixed
   rate with the send time in `stats.sent` (wall clock, one machine); WebSocket clients
   in this process record the arrival time of each `job.telemetry`. Only messages sent
   after a 1 s warm-up count; delivered fraction = received / produced for the queues a
   client follows. First one client following everything; then 1,000 clients, each
   following one queue (?queue_id=) with messages spread over 1,000 queues. When a rate
   misses its target the next lower rate is tried, and both are reported.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from websockets.asyncio.client import connect

from app.aio import Supervisor
from app.bus.embedded import EmbeddedBroker, free_port
from app.bus.kafka import KafkaBus
from app.config import Settings
from app.control.consuming import FETCH_MAX_WAIT_MS
from app.control.dispatcher import MAX_POLL_RECORDS
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
from bench.report import Row
from bench.servers import service_command, serving

MESSAGES = 100_000
ROUNDS = 3
QUEUES = 100
TARGET_RATIO = 0.5
WS_RATES = (10_000, 5_000, 2_000, 1_000)
TARGET_RATE = WS_RATES[0]
TARGET_P99_MS = 100.0
TARGET_FRACTION = 0.99
CLIENTS = 1_000
WARMUP_S = 1.0
DRAIN_S = 2.0
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


# --- 2. produce to WebSocket ---------------------------------------------------------------
def produce_at_rate(
    bootstrap: str, topic: str, rate: int, seconds: float, queue_ids: list[str], results: Any
) -> None:
    """Child process: telemetry at `rate`/s for WARMUP_S + seconds, stats.sent = send time."""

    async def main() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2)
        await producer.start()
        base = int(time.time() * 1_000_000)
        counted: Counter[str] = Counter()
        sent = 0
        began = time.perf_counter()
        window_start = time.time() + WARMUP_S
        total = WARMUP_S + seconds
        try:
            while (elapsed := time.perf_counter() - began) < total:
                due = int(elapsed * rate)
                while sent < due:
                    queue_id = queue_ids[sent % len(queue_ids)]
                    now = time.time()
                    value = orjson.dumps(
                        {
                            "type": "telemetry",
                            "queue_id": queue_id,
                            "job": "bench-job",
                            "status": "loading",
                            "records_written": sent,
                            "seq": base + sent,
                            "stats": {"sent": now},
                        }
                    )
                    await producer.send(topic, value, key=queue_id.encode())
                    if now >= window_start:
                        counted[queue_id] += 1
                    sent += 1
                await asyncio.sleep(0.002)
            await producer.flush()
        finally:
            await producer.stop()
        results.put(
            {
                "counted": dict(counted),
                "window_start": window_start,
                "rate": sum(counted.values()) / seconds,
            }
        )

    asyncio.run(main())


@dataclass
class Follower:
    queue_id: str | None
    arrivals: list[tuple[float, float]] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    async def follow(self, port: int) -> None:
        path = f"/ws/topic?queue_id={self.queue_id}" if self.queue_id else "/ws/topic"
        async with connect(
            f"ws://127.0.0.1:{port}{path}", ping_interval=None, max_size=None, open_timeout=60
        ) as ws:
            await ws.recv()  # hello
            self.connected.set()
            async for raw in ws:
                now = time.time()
                message = orjson.loads(raw)
                if message.get("event") == "job.telemetry":
                    self.arrivals.append((message["stats"]["sent"], now))


@dataclass
class Delivery:
    rate: int
    produced_rate: float
    clients: int
    fraction: float
    p50_ms: float
    p99_ms: float

    @property
    def ok(self) -> bool:
        return self.p99_ms < TARGET_P99_MS and self.fraction >= TARGET_FRACTION


async def deliver(
    port: int,
    bootstrap: str,
    rate: int,
    seconds: float,
    followers: list[Follower],
    queue_ids: list[str],
) -> Delivery:
    for follower in followers:
        follower.arrivals.clear()
    results: Any = multiprocessing.Queue()
    producer = multiprocessing.Process(
        target=produce_at_rate,
        daemon=True,
        args=(bootstrap, "queue-control", rate, seconds, queue_ids, results),
    )
    producer.start()
    report = await asyncio.to_thread(results.get, True, WARMUP_S + seconds + 60)
    await asyncio.to_thread(producer.join, 10)
    await asyncio.sleep(DRAIN_S)
    counted, start = report["counted"], report["window_start"]
    latencies: list[float] = []
    received, expected = 0, 0
    for follower in followers:
        mine = [(s, r) for s, r in follower.arrivals if s >= start]
        received += len(mine)
        latencies.extend(r - s for s, r in mine)
        expected += (
            counted.get(follower.queue_id, 0) if follower.queue_id else sum(counted.values())
        )
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else 0.0
    p50 = statistics.median(latencies) if latencies else 0.0
    return Delivery(
        rate,
        report["rate"],
        len(followers),
        received / expected if expected else 0.0,
        p50 * 1000,
        p99 * 1000,
    )


async def until_fanout_live(port: int, bootstrap: str) -> None:
    """Probe telemetry until a client sees it: the fan-out consumer starts at `latest`."""
    probe = Follower(None)
    task = asyncio.create_task(probe.follow(port))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await asyncio.wait_for(probe.connected.wait(), 30)
        deadline = time.perf_counter() + 60
        seq = int(time.time() * 1_000_000)
        while not probe.arrivals and time.perf_counter() < deadline:
            seq += 1
            await producer.send_and_wait(
                "queue-control",
                orjson.dumps(
                    {
                        "type": "telemetry",
                        "queue_id": "probe",
                        "job": "probe",
                        "status": "loading",
                        "seq": seq,
                        "stats": {"sent": time.time()},
                    }
                ),
                key=b"probe",
            )
            await asyncio.sleep(0.2)
    finally:
        await producer.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def until_dispatcher_consumes(port: int) -> None:
    """The dispatcher's group join (seconds on Tansu) must not land inside a measurement."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        deadline = time.perf_counter() + 60
        while time.perf_counter() < deadline:
            text = (await http.get("/metrics")).text
            if any(
                line.startswith("telemetry_consumed_total{") and not line.endswith(" 0.0")
                for line in text.splitlines()
            ):
                return
            await asyncio.sleep(0.2)


async def step_down(
    port: int, bootstrap: str, seconds: float, followers: list[Follower], queue_ids: list[str]
) -> list[Delivery]:
    """The target rate; if it misses, lower rates until one meets the latency target."""
    tried = []
    for rate in WS_RATES:
        tried.append(await deliver(port, bootstrap, rate, seconds, followers, queue_ids))
        if tried[-1].ok:
            break
    return tried


async def websocket_latency(
    bootstrap: str, root: Path, seconds: float
) -> dict[str, list[Delivery]]:
    targets = {"loader-producer": {"command": ["true"]}, "arango-connector": {"command": ["true"]}}
    (root / "targets.json").write_bytes(orjson.dumps(targets))
    env = {
        "DATA_DIR": str(root / "svc"),
        "TARGETS_FILE": str(root / "targets.json"),
        "LOG_LEVEL": "WARNING",
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_ENABLE_IDEMPOTENCE": "false",  # the embedded Tansu has no idempotent producers
        "JOB_LAUNCHER": "local",
        "WS_HEARTBEAT_SECONDS": "3600",
    }
    port = free_port()
    server = serving(service_command(port), port, env)
    await asyncio.to_thread(server.__enter__)
    try:
        await until_fanout_live(port, bootstrap)
        await until_dispatcher_consumes(port)
        one = [Follower(None)]
        single = await _with_followers(
            one,
            port,
            lambda: step_down(port, bootstrap, seconds, one, [f"q{n:04d}" for n in range(QUEUES)]),
        )
        many_ids = [f"q{n:04d}" for n in range(CLIENTS)]
        many = [Follower(queue_id) for queue_id in many_ids]
        crowd = await _with_followers(
            many, port, lambda: step_down(port, bootstrap, seconds, many, many_ids)
        )
    finally:
        await asyncio.to_thread(server.__exit__, None, None, None)
    return {"single": single, "crowd": crowd}


async def _with_followers(followers: list[Follower], port: int, body: Any) -> Any:
    tasks = []
    for follower in followers:  # connect in small waves: the handshakes share one core
        tasks.append(asyncio.create_task(follower.follow(port)))
        if len(tasks) % 50 == 0:
            await asyncio.wait_for(
                asyncio.gather(*(f.connected.wait() for f in followers[: len(tasks)])), 60
            )
    await asyncio.wait_for(asyncio.gather(*(f.connected.wait() for f in followers)), 60)
    try:
        return await body()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# --- rows ----------------------------------------------------------------------------------
def _delivery_rows(name: str, tried: list[Delivery]) -> list[Row]:
    """The target rate's rows carry the targets; a lower rate's rows say whether it works."""
    rows = []
    for d in tried:
        at = (
            f"{d.clients:,} client{'s' if d.clients > 1 else ''} at {d.rate:,} msg/s "
            f"(produced {d.produced_rate:,.0f}/s)"
        )
        suffix = "" if d.rate >= TARGET_RATE else f" (target is at {TARGET_RATE:,} msg/s)"
        rows += [
            Row(name, f"produce to WebSocket p50, {at}", d.p50_ms, "ms"),
            Row(
                name,
                f"produce to WebSocket p99, {at}",
                d.p99_ms,
                "ms",
                None,
                f"< {TARGET_P99_MS:g} ms{suffix}",
                d.p99_ms < TARGET_P99_MS,
            ),
            Row(
                name,
                f"delivered, {at}",
                d.fraction * 100,
                "%",
                None,
                f">= {TARGET_FRACTION:.0%}{suffix}",
                d.fraction >= TARGET_FRACTION,
            ),
        ]
    return rows


async def _measure(seconds: float) -> list[Row]:
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        broker = EmbeddedBroker(root / "tansu.log")
        bootstrap = await broker.start()
        try:
            figures = await throughput(bootstrap, root, MESSAGES, QUEUES)
            deliveries = await websocket_latency(bootstrap, root, seconds)
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
        *_delivery_rows("dispatcher/ws", deliveries["single"]),
        *_delivery_rows("dispatcher/ws", deliveries["crowd"]),
    ]


def run(seconds: float = 5.0) -> list[Row]:
    return asyncio.run(_measure(seconds))
