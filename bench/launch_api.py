"""`launch`: from POST /queues/start to every Job created, through the real service.

The service runs as its own process (uvicorn, bench/servers.py) with JOB_LAUNCHER=kubernetes
and KUBECONFIG pointing at the kmock Kubernetes API emulator, which runs on this process's
event loop on loopback. Each run POSTs a 7-request pipeline (seed 002's historical pipeline
plus a realtime trades loader) and stops the clock when the emulator holds all 7 Jobs named
in the answer. The baseline, measured in the same run against the same emulator, creates 7
Job manifests with the bare kubernetes client one after another (bench/launch.py).
Before every run the emulator's request log is dropped (bench/launch.py forget_requests):
kmock matches each request against all earlier ones, which would otherwise dominate.

    .venv/bin/python -m bench launch
"""

from __future__ import annotations

import asyncio
import copy
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from app.bus.embedded import free_port
from app.models.queues import QueueCreate
from app.services.pipeline import new_queue
from bench.launch import forget_requests, measure_bare_client
from bench.report import Row
from bench.servers import service_command, serving
from tests.fixtures.kube import KubeEmulator, emulated_cluster
from tests.seed_examples import HISTORICAL

RUNS = 30
WARMUP = 3
TARGET_P50_MS = 100.0


def pipeline() -> dict[str, Any]:
    """Seed 002's historical pipeline (6 requests) plus a realtime trades loader: 7 Jobs."""
    body: dict[str, Any] = copy.deepcopy(HISTORICAL)
    body["requests"] = [*body["requests"], {"target": "loader-producer", "type": "ws_trades"}]
    return body


CREATE = QueueCreate.model_validate(pipeline())


def write_kubeconfig(path: Path, server: str, namespace: str) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "kmock",
        "clusters": [{"name": "kmock", "cluster": {"server": server}}],
        "users": [{"name": "bench", "user": {"token": "bench"}}],
        "contexts": [
            {
                "name": "kmock",
                "context": {"cluster": "kmock", "user": "bench", "namespace": namespace},
            }
        ],
    }
    path.write_bytes(orjson.dumps(config))  # JSON is YAML


def environment(root: Path, cluster: KubeEmulator) -> dict[str, str]:
    write_kubeconfig(root / "kubeconfig", cluster.url, cluster.namespace)
    return {
        "DATA_DIR": str(root / "var"),
        "LOG_LEVEL": "WARNING",
        "KUBECONFIG": str(root / "kubeconfig"),
        "JOB_LAUNCHER": "kubernetes",
        "K8S_NAMESPACE": cluster.namespace,
        "ALLOW_UNAUTHENTICATED": "true",
    }


async def until_created(cluster: KubeEmulator, names: set[str]) -> None:
    deadline = time.perf_counter() + 10
    while not names <= set(cluster.job_names()):
        if time.perf_counter() > deadline:
            raise TimeoutError(f"Jobs not created: {sorted(names - set(cluster.job_names()))}")
        await asyncio.sleep(0.0005)


async def one_run(http: httpx.AsyncClient, cluster: KubeEmulator, body: bytes) -> float:
    forget_requests(cluster)
    started = time.perf_counter()
    answer = await http.post(
        "/queues/start", content=body, headers={"Content-Type": "application/json"}
    )
    answer.raise_for_status()
    queue_id = answer.json()["data"]["queue_id"]
    names = {job.name for job in new_queue(CREATE, queue_id).jobs}  # the service's naming
    if len(names) != 7:
        raise RuntimeError(f"expected 7 jobs, got {sorted(names)}")
    await until_created(cluster, names)
    return time.perf_counter() - started


async def measure_service(runs: int) -> list[float]:
    body = orjson.dumps(pipeline())
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        (root / "var").mkdir()
        async with emulated_cluster() as cluster:
            env = environment(root, cluster)
            port = free_port()
            # serving() polls health synchronously: run it off the loop the emulator needs
            server = serving(service_command(port), port, env)
            await asyncio.to_thread(server.__enter__)
            try:
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                    for _ in range(WARMUP):
                        await one_run(http, cluster, body)
                    return [await one_run(http, cluster, body) for _ in range(runs)]
            finally:
                await asyncio.to_thread(server.__exit__, None, None, None)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return (
        statistics.quantiles(ordered, n=100)[int(fraction * 100) - 1]
        if len(ordered) > 1
        else ordered[0]
    )


async def _measure(runs: int) -> list[Row]:
    baseline = await measure_bare_client(runs)
    seconds = await measure_service(runs)
    p50 = statistics.median(seconds) * 1000
    p95 = percentile(seconds, 0.95) * 1000
    name = "launch"
    return [
        Row(name, f"bare client: 7 Jobs one by one, p50 ({runs} runs)", baseline.p50_ms, "ms"),
        Row(name, f"bare client: 7 Jobs one by one, p95 ({runs} runs)", baseline.p95_ms, "ms"),
        Row(
            name,
            f"POST /queues/start to 7 Jobs created, p50 ({runs} runs)",
            p50,
            "ms",
            baseline.p50_ms,
            f"< {TARGET_P50_MS:g} ms",
            p50 < TARGET_P50_MS,
        ),
        Row(
            name,
            f"POST /queues/start to 7 Jobs created, p95 ({runs} runs)",
            p95,
            "ms",
            baseline.p95_ms,
        ),
    ]


def run(seconds: float = 5.0) -> list[Row]:
    return asyncio.run(_measure(RUNS))
