"""Produce-to-WebSocket latency of the service's fan-out, beside two baselines in the same run.

The service runs as its own process (uvicorn, like bench/servers.py) on the bench's broker,
and so do the bare broadcaster and the raw consumer (bench/fanout_peers.py). A producer
process sends telemetry at a fixed rate with the send time in `stats.sent` (wall clock, one
machine). For each row the same followers (same queues, same number of client processes)
connect to the service and to the bare broadcaster; all of them and the raw consumer read
the same produced messages at the same time, so a slow moment of the machine hits all.
Only messages sent after a 1 s warm-up count; after the producer stops the bench waits
until every client has every message (at most DRAIN_CAP_S), so lateness shows in the
latency and only loss (conflation) in delivered = received / produced for the queues a
client follows; a client is complete when it got every one of them. The CPU time of the
service and of the bare broadcaster over the same stretch is reported per 100,000
messages: unlike the latencies, it hardly moves with the machine's load.

Rows: 1 client following everything at 10,000 msg/s; 1,000 clients each following one of
1,000 queues at 10,000 msg/s; 10,000 clients, ten per queue, at 1,000 msg/s. Targets:
fan-out p99 <= 1.5 x the bare broadcaster's p99, and every client complete.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaProducer

from app.bus.embedded import free_port
from bench import fanout_peers
from bench.fanout_peers import Follower
from bench.report import Row
from bench.servers import served_process, service_command

TOPIC = "queue-control"
TARGET_P99_RATIO = 1.5
WARMUP_S = 1.0
DRAIN_CAP_S = 30.0
"""After the producer stops, wait until every client has every message, at most this long
(what is still missing then counts as not delivered)."""
CONNECT_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Scenario:
    clients: int
    queues: int
    rate: int
    processes: int
    """Client processes per side (the service's clients, the bare broadcaster's)."""

    def follow(self) -> list[str | None]:
        """Each client's queue; None follows everything (the single client)."""
        if self.clients == 1:
            return [None]
        return [f"q{n % self.queues:05d}" for n in range(self.clients)]

    def queue_ids(self) -> list[str]:
        return [f"q{n:05d}" for n in range(self.queues)]

    def name(self) -> str:
        who = "1 client (all queues)" if self.clients == 1 else f"{self.clients:,} clients"
        return f"{who}, {self.queues:,} queues, {self.rate:,} msg/s"


SCENARIOS = (
    Scenario(clients=1, queues=100, rate=10_000, processes=1),
    Scenario(clients=1_000, queues=1_000, rate=10_000, processes=2),
    Scenario(clients=10_000, queues=1_000, rate=1_000, processes=4),
)


@dataclass(frozen=True)
class Figures:
    p50_ms: float
    p99_ms: float
    delivered: float
    complete: int
    """Clients that got every message of the queues they follow."""
    clients: int
    missed: int
    """Updates announced to clients as missed (conflated while behind)."""


def figures(
    seen: list[tuple[str | None, list[tuple[float, float]], int]],
    counted: dict[str, int],
    window_start: float,
) -> Figures:
    """Latency over every client's messages sent in the window; delivered against what
    was produced for the queues each follows."""
    latencies: list[float] = []
    received = expected = complete = missed = 0
    for queue_id, arrivals, announced in seen:
        mine = [arrival - sent for sent, arrival in arrivals if sent >= window_start]
        wanted = counted.get(queue_id, 0) if queue_id else sum(counted.values())
        latencies += mine
        received, expected = received + len(mine), expected + wanted
        complete += len(mine) >= wanted
        missed += announced
    latencies.sort()
    return Figures(
        _percentile(latencies, 0.5) * 1000,
        _percentile(latencies, 0.99) * 1000,
        received / expected if expected else 0.0,
        complete,
        len(seen),
        missed,
    )


def _percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, int(fraction * len(values)))] if values else 0.0


# --- the producer --------------------------------------------------------------------------
def produce_at_rate(
    bootstrap: str, rate: int, seconds: float, queue_ids: list[str], results: Any
) -> None:
    """Child process: telemetry at `rate`/s for WARMUP_S + seconds, stats.sent = send time."""
    asyncio.run(_produce(bootstrap, rate, seconds, queue_ids, results))


async def _produce(
    bootstrap: str, rate: int, seconds: float, queue_ids: list[str], results: Any
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2)
    await producer.start()
    base = int(time.time() * 1_000_000)
    counted: dict[str, int] = dict.fromkeys(queue_ids, 0)
    every: dict[str, int] = dict.fromkeys(queue_ids, 0)
    sent = 0
    began = time.perf_counter()
    window_start = time.time() + WARMUP_S
    try:
        while (elapsed := time.perf_counter() - began) < WARMUP_S + seconds:
            while sent < int(elapsed * rate):
                queue_id = queue_ids[sent % len(queue_ids)]
                now = time.time()
                await producer.send(
                    TOPIC, _telemetry(queue_id, sent, base, now), key=queue_id.encode()
                )
                every[queue_id] += 1
                if now >= window_start:
                    counted[queue_id] += 1
                sent += 1
            await asyncio.sleep(0.002)
        await producer.flush()
    finally:
        await producer.stop()
    rate_made = sum(counted.values()) / seconds
    report = {"counted": counted, "every": every, "window_start": window_start, "sent": sent}
    results.put({**report, "rate": rate_made})


def _telemetry(queue_id: str, n: int, base: int, now: float) -> bytes:
    return orjson.dumps(
        {
            "type": "telemetry",
            "queue_id": queue_id,
            "job": "bench-job",
            "status": "loading",
            "records_written": n,
            "seq": base + n,
            "stats": {"sent": now},
        }
    )


# --- the peers -----------------------------------------------------------------------------
class ClientGroup:
    """One side's followers, spread over client processes."""

    def __init__(self, port: int, follow: list[str | None], processes: int) -> None:
        self._pipes: list[Connection] = []
        self._processes = []
        for share in range(processes):
            mine, theirs = multiprocessing.Pipe()
            process = multiprocessing.Process(
                target=fanout_peers.clients,
                args=(port, follow[share::processes], theirs),
                daemon=True,
            )
            process.start()
            self._pipes.append(mine)
            self._processes.append(process)

    async def connected(self) -> None:
        for pipe in self._pipes:
            if not await asyncio.to_thread(pipe.poll, CONNECT_TIMEOUT_S):
                raise TimeoutError("clients did not connect")
            pipe.recv()

    async def count(self) -> int:
        """Messages received so far by all of this side's clients."""
        for pipe in self._pipes:
            pipe.send("count")
        return sum([await asyncio.to_thread(pipe.recv) for pipe in self._pipes])

    async def take(self) -> list[tuple[str | None, list[tuple[float, float]], int]]:
        seen = []
        for pipe in self._pipes:
            pipe.send("take")
        for pipe in self._pipes:
            seen += await asyncio.to_thread(pipe.recv)
        return seen

    def close(self) -> None:
        for process in self._processes:
            process.join(10)
            if process.is_alive():
                process.kill()


class RawConsumer:
    def __init__(self, bootstrap: str) -> None:
        self._pipe, theirs = multiprocessing.Pipe()
        self._process = multiprocessing.Process(
            target=fanout_peers.raw_consumer, args=(bootstrap, TOPIC, theirs), daemon=True
        )
        self._process.start()

    async def take(self) -> list[tuple[float, float]]:
        self._pipe.send("take")
        arrivals: list[tuple[float, float]] = await asyncio.to_thread(self._pipe.recv)
        return arrivals

    def close(self) -> None:
        self._process.kill()
        self._process.join(10)


@dataclass(frozen=True)
class Servers:
    """The service and the bare broadcaster: their ports and process ids."""

    ports: tuple[int, int]
    pids: tuple[int, int]

    def cpu(self) -> list[float]:
        return [cpu_seconds(pid) for pid in self.pids]


class BareBroadcaster:
    def __init__(self, bootstrap: str) -> None:
        self.port = free_port()
        ready = multiprocessing.Event()
        self._process = multiprocessing.Process(
            target=fanout_peers.bare_broadcaster,
            args=(bootstrap, TOPIC, self.port, ready),
            daemon=True,
        )
        self._process.start()
        if not ready.wait(60):
            raise RuntimeError("the bare broadcaster did not start")
        assert self._process.pid is not None
        self.pid: int = self._process.pid

    def close(self) -> None:
        self._process.kill()
        self._process.join(10)


# --- readiness -----------------------------------------------------------------------------
async def until_live(ports: list[int], raw: RawConsumer, bootstrap: str) -> None:
    """Probe telemetry until a client of each server and the raw consumer see one: their
    consumers start at `latest`, so what was sent before they had partitions is lost."""
    probes = [Follower(None) for _ in ports]
    tasks = [asyncio.create_task(p.follow(port)) for p, port in zip(probes, ports, strict=True)]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await asyncio.wait_for(asyncio.gather(*(p.connected.wait() for p in probes)), 60)
        raw_saw = False
        deadline = time.perf_counter() + 60
        while not (raw_saw and all(p.arrivals for p in probes)):
            if time.perf_counter() > deadline:
                raise TimeoutError("the fan-out, bare broadcaster or raw consumer is not live")
            await producer.send_and_wait(TOPIC, _telemetry("probe", 0, time.time_ns(), time.time()))
            await asyncio.sleep(0.2)
            raw_saw = raw_saw or bool(await raw.take())
    finally:
        await producer.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


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


# --- one scenario --------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    scenario: Scenario
    produced_rate: float
    service: Figures
    bare: Figures
    raw: Figures
    service_cpu: float
    """CPU seconds of the service process per 100,000 messages produced."""
    bare_cpu: float


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(
    scenario: Scenario, servers: Servers, raw: RawConsumer, bootstrap: str, seconds: float
) -> Outcome:
    follow = scenario.follow()
    sides = [ClientGroup(port, follow, scenario.processes) for port in servers.ports]
    try:
        for side in sides:
            await side.connected()
        await raw.take()
        cpu_before = servers.cpu()
        report = await _produce_once(bootstrap, scenario, seconds)
        wanted = sum(expected(follow, report["every"]))
        await _drained(sides, wanted, time.perf_counter() + DRAIN_CAP_S)
        cpu = [
            (after - before) * 100_000 / report["sent"]
            for before, after in zip(cpu_before, servers.cpu(), strict=True)
        ]
        consumed = await raw.take()
        seen = [await side.take() for side in sides]
    finally:
        for side in sides:
            side.close()
    counted, start = report["counted"], report["window_start"]
    everything: list[tuple[str | None, list[tuple[float, float]], int]] = [(None, consumed, 0)]
    return Outcome(
        scenario,
        report["rate"],
        figures(seen[0], counted, start),
        figures(seen[1], counted, start),
        figures(everything, counted, start),
        *cpu,
    )


def expected(follow: list[str | None], every: dict[str, int]) -> list[int]:
    """Messages each client should get over the whole run (warm-up included)."""
    everything = sum(every.values())
    return [every.get(q, 0) if q else everything for q in follow]


async def _drained(sides: list[ClientGroup], wanted: int, deadline: float) -> None:
    """Until every side's clients have every message, or the deadline."""
    for side in sides:
        while await side.count() < wanted and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)  # the counts are in other processes: no event to wait on


async def _produce_once(bootstrap: str, scenario: Scenario, seconds: float) -> dict[str, Any]:
    results: Any = multiprocessing.Queue()
    producer = multiprocessing.Process(
        target=produce_at_rate,
        daemon=True,
        args=(bootstrap, scenario.rate, seconds, scenario.queue_ids(), results),
    )
    producer.start()
    report: dict[str, Any] = await asyncio.to_thread(results.get, True, WARMUP_S + seconds + 60)
    await asyncio.to_thread(producer.join, 10)
    return report


# --- all scenarios -------------------------------------------------------------------------
def service_env(bootstrap: str, root: Path) -> dict[str, str]:
    targets = {"loader-producer": {"command": ["true"]}, "arango-connector": {"command": ["true"]}}
    (root / "targets.json").write_bytes(orjson.dumps(targets))
    return {
        "DATA_DIR": str(root / "svc"),
        "TARGETS_FILE": str(root / "targets.json"),
        "LOG_LEVEL": "WARNING",
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_ENABLE_IDEMPOTENCE": "false",  # the embedded Tansu has no idempotent producers
        "JOB_LAUNCHER": "local",
        "WS_HEARTBEAT_SECONDS": "3600",
    }


async def fanout_latency(
    bootstrap: str, root: Path, seconds: float, scenarios: tuple[Scenario, ...] = SCENARIOS
) -> list[Outcome]:
    fanout_peers.raise_open_files_limit()
    port = free_port()
    server = served_process(service_command(port), port, service_env(bootstrap, root))
    process = await asyncio.to_thread(server.__enter__)
    bare = BareBroadcaster(bootstrap)
    raw = RawConsumer(bootstrap)
    servers = Servers((port, bare.port), (process.pid, bare.pid))
    try:
        await until_live(list(servers.ports), raw, bootstrap)
        await until_dispatcher_consumes(port)
        return [await measure(s, servers, raw, bootstrap, seconds) for s in scenarios]
    finally:
        raw.close()
        bare.close()
        await asyncio.to_thread(server.__exit__, None, None, None)


# --- rows ----------------------------------------------------------------------------------
def rows(outcome: Outcome) -> list[Row]:
    """Per scenario: the raw consumer, the bare broadcaster (against the raw consumer), the
    fan-out against the bare broadcaster with the targets."""
    s, bare, raw = outcome.service, outcome.bare, outcome.raw
    at = f"{outcome.scenario.name()} (produced {outcome.produced_rate:,.0f}/s)"
    name = "dispatcher/ws"
    return [
        Row(name, f"raw aiokafka consumer p50, {at}", raw.p50_ms, "ms"),
        Row(name, f"raw aiokafka consumer p99, {at}", raw.p99_ms, "ms"),
        Row(name, f"raw aiokafka consumer delivered, {at}", raw.delivered * 100, "%"),
        Row(name, f"bare broadcaster p50, {at}", bare.p50_ms, "ms", raw.p50_ms),
        Row(name, f"bare broadcaster p99, {at}", bare.p99_ms, "ms", raw.p99_ms),
        Row(name, f"bare broadcaster delivered, {at}", bare.delivered * 100, "%"),
        Row(name, f"fan-out p50, {at}", s.p50_ms, "ms", bare.p50_ms),
        Row(
            name,
            f"fan-out p99 (vs bare broadcaster), {at}",
            s.p99_ms,
            "ms",
            bare.p99_ms,
            f"<= {TARGET_P99_RATIO:g} x bare",
            s.p99_ms <= TARGET_P99_RATIO * bare.p99_ms,
        ),
        Row(
            name,
            f"fan-out delivered ({s.complete:,}/{s.clients:,} clients complete, "
            f"{s.missed:,} announced missed), {at}",
            s.delivered * 100,
            "%",
            bare.delivered * 100,
            "100 % to every client",
            s.complete == s.clients,
        ),
        Row(
            name,
            f"CPU s per 100k messages, service (dispatcher + fan-out) vs bare broadcaster, {at}",
            outcome.service_cpu,
            "s",
            outcome.bare_cpu,
        ),
    ]


async def _alone(seconds: float, scenarios: tuple[Scenario, ...]) -> list[Row]:
    """The fan-out rows only, on a broker of their own (`python -m bench.fanout`)."""
    import tempfile

    from app.bus.embedded import EmbeddedBroker

    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        broker = EmbeddedBroker(Path(tmp) / "tansu.log")
        bootstrap = await broker.start()
        try:
            outcomes = await fanout_latency(bootstrap, Path(tmp), seconds, scenarios)
        finally:
            await broker.stop()
    return [row for outcome in outcomes for row in rows(outcome)]


if __name__ == "__main__":
    import sys

    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    chosen = tuple(SCENARIOS[int(n)] for n in sys.argv[2:]) or SCENARIOS
    for row in asyncio.run(_alone(seconds, chosen)):
        ratio = f" ratio {row.ratio:.2f}" if row.ratio is not None else ""
        print(f"{row.metric}: {row.value:,.1f} {row.unit}{ratio} {row.target} {row.met}")
