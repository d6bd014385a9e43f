"""Launch-to-Jobs latency: from launching a 7-request pipeline to all 7 Jobs existing.

Runs against the kmock Kubernetes API emulator on loopback through the real kubernetes
client, so it measures our code plus the client's HTTP round trips, not a real cluster.
The baseline, measured in the same run, creates the same 7 Job manifests with the bare
client one after another; the printed ratio is launcher time / baseline time.

    .venv/bin/python -m bench.launch --runs 30

Reuse: `measure_launch_to_jobs(launcher_factory, start=...)` accepts any `start` coroutine
(e.g. one that POSTs /queues/start to an app wired to the emulator's ApiClient).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kubernetes import client, watch

from app.config import Settings
from app.launchers.base import JobLauncher, JobSpec
from app.launchers.k8s_render import render_job
from app.launchers.kubernetes import KubernetesLauncher
from app.launchers.targets import default_registry
from app.naming import job_name
from tests.fixtures.kube import KubeEmulator, emulated_cluster

PIPELINE = (
    ("loader-producer", "api_candles_5m"),
    ("loader-producer", "api_trades"),
    ("loader-producer", "api_agg_trades"),
    ("arango-connector", "api_candles_5m"),
    ("arango-connector", "api_trades"),
    ("graph-builder", "build"),
    ("gnn-trainer", "train"),
)
StartPipeline = Callable[[JobLauncher, str], Awaitable[list[str]]]
LauncherFactory = Callable[[KubeEmulator], JobLauncher]


@dataclass(frozen=True)
class LaunchStats:
    runs: int
    p50_ms: float
    p95_ms: float


def pipeline_specs(queue_id: str) -> list[JobSpec]:
    """The JobSpecs of a 7-request pipeline (3 loaders, 2 connectors, 2 ML jobs)."""
    return [
        JobSpec(
            queue_id=queue_id,
            name=job_name(queue_id, target, job_type),
            target=target,
            type=job_type,
            env={"QUEUE_ID": queue_id, "TARGET": target},
        )
        for target, job_type in PIPELINE
    ]


async def launch_directly(launcher: JobLauncher, queue_id: str) -> list[str]:
    """The default `start`: launch the 7 specs concurrently, as the queue service does."""
    specs = pipeline_specs(queue_id)
    await asyncio.gather(*(launcher.launch(spec) for spec in specs))
    return [spec.name for spec in specs]


def kubernetes_launcher(cluster: KubeEmulator) -> JobLauncher:
    settings = Settings(_env_file=None, k8s_namespace=cluster.namespace)
    return KubernetesLauncher(settings, default_registry(), cluster.api_client)


async def wait_for_jobs(cluster: KubeEmulator, names: list[str]) -> None:
    """Until every named Job exists: at once if they do, else as the watch reports them."""
    if set(names) <= set(cluster.job_names()):
        return
    await asyncio.to_thread(_watch_until_created, cluster, set(names))


def forget_requests(cluster: KubeEmulator) -> None:
    """Drop kmock's log of served requests (kept for assertions): it matches each new
    request against that log, so without this every request costs O(requests so far) and
    the figures grow with the run count (7 ms per create after 100 Jobs, 30 ms after 200)."""
    server: Any = cluster.server
    server._requests.clear()
    for payload in server._payloads:
        if hasattr(payload, "_requests"):
            payload._requests.clear()


def _watch_until_created(cluster: KubeEmulator, names: set[str]) -> None:
    stream = watch.Watch()  # type: ignore[no-untyped-call]
    batch = client.BatchV1Api(cluster.api_client)
    events = stream.stream(  # type: ignore[no-untyped-call]
        batch.list_namespaced_job, cluster.namespace, timeout_seconds=30
    )
    for event in events:
        names.discard(event["object"].metadata.name)
        if not names:
            stream.stop()  # type: ignore[no-untyped-call]


async def one_run(cluster: KubeEmulator, launcher: JobLauncher, start: StartPipeline) -> float:
    started = time.perf_counter()
    names = await start(launcher, str(uuid.uuid4()))
    await wait_for_jobs(cluster, names)
    return time.perf_counter() - started


async def measure_launch_to_jobs(
    launcher_factory: LauncherFactory = kubernetes_launcher,
    runs: int = 20,
    start: StartPipeline = launch_directly,
) -> LaunchStats:
    """p50/p95 over `runs` pipelines, each with a fresh queue id on one emulator."""
    async with emulated_cluster() as cluster:
        launcher = launcher_factory(cluster)
        try:
            seconds = []
            for _ in range(runs):
                forget_requests(cluster)
                seconds.append(await one_run(cluster, launcher, start))
        finally:
            await launcher.close()
    return _stats(seconds)


async def measure_bare_client(runs: int = 20) -> LaunchStats:
    """Baseline: the same 7 manifests created one by one with the bare kubernetes client."""
    async with emulated_cluster() as cluster:
        settings = Settings(_env_file=None, k8s_namespace=cluster.namespace)
        batch = client.BatchV1Api(cluster.api_client)
        seconds = []
        for _ in range(runs):
            forget_requests(cluster)
            specs = pipeline_specs(str(uuid.uuid4()))
            started = time.perf_counter()
            for spec in specs:
                manifest: Any = render_job(spec, default_registry()[spec.target], settings)
                await asyncio.to_thread(batch.create_namespaced_job, cluster.namespace, manifest)
            seconds.append(time.perf_counter() - started)
    return _stats(seconds)


def _stats(seconds: list[float]) -> LaunchStats:
    millis = sorted(s * 1000 for s in seconds)
    p95 = statistics.quantiles(millis, n=100)[94] if len(millis) > 1 else millis[0]
    return LaunchStats(runs=len(millis), p50_ms=statistics.median(millis), p95_ms=p95)


async def _main(runs: int) -> None:
    baseline = await measure_bare_client(runs)
    launcher = await measure_launch_to_jobs(runs=runs)
    print(f"bare client, sequential : p50 {baseline.p50_ms:7.1f} ms  p95 {baseline.p95_ms:7.1f} ms")
    print(f"KubernetesLauncher      : p50 {launcher.p50_ms:7.1f} ms  p95 {launcher.p95_ms:7.1f} ms")
    print(
        f"ratio launcher/baseline : p50 {launcher.p50_ms / baseline.p50_ms:5.2f}"
        f"  p95 {launcher.p95_ms / baseline.p95_ms:5.2f}  ({runs} runs of 7 Jobs)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    asyncio.run(_main(parser.parse_args().runs))
