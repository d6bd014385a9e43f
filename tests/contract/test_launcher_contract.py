"""One contract for every JobLauncher adapter: local processes, and Kubernetes over the kmock
emulator through the real kubernetes client.

A harness plays the platform's part: on the local launcher the jobs are real processes
(tests/jobs/scripted.py) that end by themselves; on the emulator nothing runs, so the
harness writes the Job conditions and pod logs a cluster would.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import kmock
import pytest

from app.aio import Backoff
from app.config import Settings
from app.errors import JobNotFound, LaunchFailed
from app.launchers.base import JobLauncher, JobOutcome, JobPhase, JobSpec
from app.launchers.kubernetes import KubernetesLauncher
from app.launchers.local import LocalLauncher
from app.launchers.targets import TargetSpec, default_registry
from app.models.catalog import Target
from app.naming import job_name
from tests.fixtures.app import scripted
from tests.fixtures.eventually import eventually
from tests.fixtures.kube import PODS, KubeEmulator, emulated_cluster

pytestmark = pytest.mark.timeout(30)
QUEUE = "5f1c2a9e-7d3b-4c1e-9a2f-0b6d8e4c3a21"
RUNS, SUCCEEDS, FAILS, CANNOT_RUN = (
    Target.LOADER_PRODUCER,
    Target.ARANGO_CONNECTOR,
    Target.GRAPH_BUILDER,
    Target.VISUALIZER,
)
"""What the job of each target does in this suite: run until stopped, succeed, fail, or
have no way to run at all (neither a command nor an image)."""
GRACE = 0.5


def spec_for(target: Target) -> JobSpec:
    name = job_name(QUEUE, target, "api_candles_5m")
    env = {"QUEUE_ID": QUEUE, "TARGET": target.value}
    return JobSpec(QUEUE, name, target, "api_candles_5m", env)


@dataclass
class Harness:
    """A launcher under test and the platform side of it."""

    launcher: JobLauncher
    fresh: Callable[[], JobLauncher]
    """Another launcher on the same platform (a restarted service)."""
    end: Callable[[JobSpec], Awaitable[None]]
    """Make the job end the way its target says (the platform's doing)."""
    printed: Callable[[JobSpec, str], Awaitable[list[str]]]
    """The lines the job printed, once the platform has them (given the launch reference)."""
    outcomes: list[JobOutcome] = field(default_factory=list)

    async def record(self, outcome: JobOutcome) -> None:
        self.outcomes.append(outcome)

    def outcome_of(self, spec: JobSpec) -> JobOutcome | None:
        return next((o for o in self.outcomes if o.name == spec.name), None)


def local_registry() -> dict[str, TargetSpec]:
    registry = default_registry()
    registry[RUNS] = TargetSpec.model_validate(scripted("sleep", "30"))
    registry[SUCCEEDS] = TargetSpec.model_validate(scripted("exit", "0"))
    registry[FAILS] = TargetSpec.model_validate(scripted("exit", "3"))
    registry[CANNOT_RUN] = TargetSpec()
    return registry


@asynccontextmanager
async def local_harness(tmp_path: Path) -> AsyncIterator[Harness]:
    def make() -> LocalLauncher:
        settings = Settings(_env_file=None, data_dir=tmp_path / "var")
        return LocalLauncher(local_registry(), tmp_path / "jobs", settings)

    launcher = make()

    async def end(spec: JobSpec) -> None:
        return None  # the scripted job ends by itself

    async def printed(spec: JobSpec, reference: str) -> list[str]:
        expected = [f"scripted job sleep 30 pid={reference}"]
        path = launcher.log_path(spec.queue_id, spec.name)
        await eventually(lambda: path.exists() and path.read_text().splitlines() == expected)
        return expected

    yield Harness(launcher, make, end, printed)


@asynccontextmanager
async def kubernetes_harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with emulated_cluster() as kube:

        def make() -> KubernetesLauncher:
            registry = default_registry()
            registry[CANNOT_RUN] = TargetSpec()
            settings = Settings(_env_file=None, k8s_namespace=kube.namespace)
            return KubernetesLauncher(
                settings,
                registry,
                kube.api_client,
                backoff=Backoff(initial=0.05, cap=0.2),
                watch_idle_timeout=5.0,
            )

        async def end(spec: JobSpec) -> None:
            if spec.target == SUCCEEDS:
                await kube.set_conditions(spec.name, {"type": "Complete"})
            elif spec.target == FAILS:
                failed = {"type": "Failed", "reason": "BackoffLimitExceeded", "message": "3"}
                await kube.set_conditions(spec.name, failed)

        async def printed(spec: JobSpec, reference: str) -> list[str]:
            return await pod_logs(kube, spec, ["one", "two", "three"])

        yield Harness(make(), make, end, printed)


async def pod_logs(kube: KubeEmulator, spec: JobSpec, lines: list[str]) -> list[str]:
    """A pod of the Job, as the Job controller makes it, whose log holds `lines`."""
    labels = {"job-name": spec.name, "streamforge.io/queue-id": spec.queue_id}
    await kube.add_pod(f"{spec.name}-pod", labels, "2024-01-01T00:00:00Z")
    body = "".join(f"{line}\n" for line in lines).encode()
    (
        kube.server["get", PODS, kmock.subresource("log")]
        << kmock.headers({"Content-Type": "text/plain"})
        << body
    )
    return lines


HARNESSES = {"local": local_harness, "kubernetes": kubernetes_harness}


@pytest.fixture(params=sorted(HARNESSES))
async def platform(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    async with HARNESSES[request.param](tmp_path) as harness:
        await harness.launcher.start(harness.record)
        try:
            yield harness
        finally:
            await harness.launcher.close()


async def test_launch_is_idempotent_by_name(platform: Harness) -> None:
    spec = spec_for(RUNS)
    first = await platform.launcher.launch(spec)
    second = await platform.launcher.launch(spec)
    assert first and first == second
    phases = await platform.launcher.observe(QUEUE, [spec.name])
    assert phases == {spec.name: JobPhase.RUNNING}


async def test_observe_says_missing_for_a_job_never_launched(platform: Harness) -> None:
    assert await platform.launcher.observe(QUEUE, ["qm-never"]) == {"qm-never": JobPhase.MISSING}


async def test_ended_jobs_are_reported_with_how_they_ended(platform: Harness) -> None:
    succeeded, failed = spec_for(SUCCEEDS), spec_for(FAILS)
    for spec in (succeeded, failed):
        await platform.launcher.launch(spec)
        await platform.end(spec)
    await eventually(
        lambda: platform.outcome_of(succeeded) and platform.outcome_of(failed),
        what="both outcomes",
    )
    success, failure = platform.outcome_of(succeeded), platform.outcome_of(failed)
    assert success is not None and success.phase is JobPhase.SUCCEEDED
    assert failure is not None and failure.phase is JobPhase.FAILED and failure.message
    assert (success.queue_id, failure.queue_id) == (QUEUE, QUEUE)


async def test_stop_ends_a_running_job_within_the_grace(platform: Harness) -> None:
    spec = spec_for(RUNS)
    await platform.launcher.launch(spec)
    started = time.monotonic()
    await platform.launcher.stop(QUEUE, [spec.name], grace_seconds=GRACE)
    assert time.monotonic() - started < GRACE + 5
    phases = await platform.launcher.observe(QUEUE, [spec.name])
    assert phases[spec.name] is not JobPhase.RUNNING


async def test_stop_tolerates_a_job_never_launched(platform: Harness) -> None:
    await platform.launcher.stop(QUEUE, ["qm-never"], grace_seconds=0)


async def test_logs_are_the_tail_of_what_the_job_printed(platform: Harness) -> None:
    spec = spec_for(RUNS)
    reference = await platform.launcher.launch(spec)
    printed = await platform.printed(spec, reference)
    assert await platform.launcher.logs(QUEUE, spec.name, tail=2) == printed[-2:]


async def test_logs_of_an_unknown_job_are_job_not_found(platform: Harness) -> None:
    with pytest.raises(JobNotFound):
        await platform.launcher.logs(QUEUE, "qm-never", tail=10)


async def test_a_target_that_cannot_run_fails_to_launch(platform: Harness) -> None:
    with pytest.raises(LaunchFailed):
        await platform.launcher.launch(spec_for(CANNOT_RUN))


async def test_cannot_run_says_why_and_how_to_register_before_any_launch(
    platform: Harness,
) -> None:
    reason = platform.launcher.cannot_run(CANNOT_RUN)
    assert reason is not None and reason.startswith(CANNOT_RUN.value)
    assert "TARGETS_FILE" in reason
    assert all(platform.launcher.cannot_run(t) is None for t in (RUNS, SUCCEEDS, FAILS))


async def test_reclaim_leaves_the_jobs_it_runs_alone(platform: Harness) -> None:
    spec = spec_for(RUNS)
    await platform.launcher.launch(spec)
    await platform.launcher.reclaim(QUEUE, [spec.name, "qm-never"])
    assert await platform.launcher.observe(QUEUE, [spec.name]) == {spec.name: JobPhase.RUNNING}


async def test_ping_answers_while_the_platform_is_up(platform: Harness) -> None:
    await platform.launcher.ping()


async def test_close_ends_the_jobs_it_owns_and_leaves_the_others(platform: Harness) -> None:
    spec = spec_for(RUNS)
    await platform.launcher.launch(spec)
    await platform.launcher.close()
    if platform.launcher.owns_jobs:
        outcome = platform.outcome_of(spec)
        assert outcome is not None and outcome.phase is not JobPhase.RUNNING
    else:
        after_restart = platform.fresh()
        assert await after_restart.observe(QUEUE, [spec.name]) == {spec.name: JobPhase.RUNNING}
        assert platform.outcome_of(spec) is None
