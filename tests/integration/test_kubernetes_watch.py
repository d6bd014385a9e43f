"""The launcher's watch on the kmock emulator: outcomes, 410 Gone, errors, clean close."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import kmock
import pytest
import pytest_asyncio

from app.launchers.base import JobOutcome, JobPhase
from app.launchers.kubernetes import KubernetesLauncher
from app.naming import job_name
from tests.fixtures.kube import JOBS, KubeEmulator
from tests.integration.test_kubernetes_launcher import QUEUE, spec_for

pytestmark = pytest.mark.timeout(10)
WAIT = 5.0


class Outcomes:
    """The on_outcome handler: collects outcomes and lets a test await the next one."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[JobOutcome] = asyncio.Queue()

    async def __call__(self, outcome: JobOutcome) -> None:
        await self.queue.put(outcome)

    async def next(self) -> JobOutcome:
        return await asyncio.wait_for(self.queue.get(), WAIT)


@pytest_asyncio.fixture
async def outcomes(launcher: KubernetesLauncher) -> AsyncIterator[Outcomes]:
    """Outcomes of a started launcher whose first list has been reconciled."""
    collected = Outcomes()
    await launcher.start(collected)
    assert launcher.watcher is not None
    await asyncio.wait_for(launcher.watcher.synced.wait(), WAIT)
    yield collected


async def launched(launcher: KubernetesLauncher, job_type: str = "api_candles_5m") -> str:
    spec = spec_for(job_type=job_type)
    await launcher.launch(spec)
    return spec.name


async def test_complete_job_is_reported_succeeded(
    kube: KubeEmulator, launcher: KubernetesLauncher, outcomes: Outcomes
) -> None:
    name = await launched(launcher)
    await kube.set_conditions(name, {"type": "Complete"})
    assert await outcomes.next() == JobOutcome(QUEUE, name, JobPhase.SUCCEEDED)


async def test_failed_job_is_reported_with_the_condition_message(
    kube: KubeEmulator, launcher: KubernetesLauncher, outcomes: Outcomes
) -> None:
    name = await launched(launcher)
    failed = {"type": "Failed", "reason": "BackoffLimitExceeded", "message": "3 pods failed"}
    await kube.set_conditions(name, failed)
    expected = JobOutcome(QUEUE, name, JobPhase.FAILED, "BackoffLimitExceeded: 3 pods failed")
    assert await outcomes.next() == expected


async def test_deadline_exceeded_is_reported_failed(
    kube: KubeEmulator, launcher: KubernetesLauncher, outcomes: Outcomes
) -> None:
    name = await launched(launcher)
    late = {"type": "Failed", "reason": "DeadlineExceeded", "message": "active deadline"}
    await kube.set_conditions(name, late)
    outcome = await outcomes.next()
    assert outcome.phase is JobPhase.FAILED
    assert outcome.message == "DeadlineExceeded: active deadline"


async def test_job_deleted_before_ending_is_reported_missing(
    kube: KubeEmulator, launcher: KubernetesLauncher, outcomes: Outcomes
) -> None:
    name = await launched(launcher)
    await kube.delete_job(name)
    assert await outcomes.next() == JobOutcome(QUEUE, name, JobPhase.MISSING, "job deleted")


async def test_each_outcome_is_reported_once(
    kube: KubeEmulator, launcher: KubernetesLauncher, outcomes: Outcomes
) -> None:
    name = await launched(launcher)
    await kube.set_conditions(name, {"type": "Complete"})
    await kube.set_conditions(name, {"type": "Complete", "reason": "again"})
    await kube.delete_job(name)  # TTL clean-up of a finished Job: nothing new to say
    sentinel = await launched(launcher, job_type="api_trades")
    await kube.set_conditions(sentinel, {"type": "Complete"})
    assert [await outcomes.next(), await outcomes.next()] == [
        JobOutcome(QUEUE, name, JobPhase.SUCCEEDED),
        JobOutcome(QUEUE, sentinel, JobPhase.SUCCEEDED),
    ]
    assert outcomes.queue.empty()


async def test_jobs_that_ended_while_nobody_watched_are_reported_at_start(
    kube: KubeEmulator, launcher: KubernetesLauncher
) -> None:
    name = await launched(launcher)
    await kube.set_conditions(name, {"type": "Complete"})
    collected = Outcomes()
    await launcher.start(collected)
    assert await collected.next() == JobOutcome(QUEUE, name, JobPhase.SUCCEEDED)


async def test_410_gone_on_watch_lists_again(
    kube: KubeEmulator, launcher: KubernetesLauncher
) -> None:
    gone = {"code": 410, "reason": "Expired", "message": "too old resource version"}
    kube.server[kmock.action.WATCH, JOBS][:1] << ({"type": "ERROR", "object": gone},)  # a stream
    collected = Outcomes()
    await launcher.start(collected)
    assert launcher.watcher is not None
    await asyncio.wait_for(launcher.watcher.synced.wait(), WAIT)  # the first list is done
    name = await launched(launcher)
    await kube.set_conditions(name, {"type": "Complete"})
    assert await collected.next() == JobOutcome(QUEUE, name, JobPhase.SUCCEEDED)
    assert len(kube.server[kmock.action.LIST, JOBS]) == 2  # the relist after 410 saw it
    assert launcher.watcher.error_restarts == 0  # relisted at once, no backoff


async def test_410_gone_answered_to_the_watch_request_lists_again(
    kube: KubeEmulator, launcher: KubernetesLauncher
) -> None:
    kube.server[kmock.action.WATCH, JOBS][:1] << kmock.KubernetesError(status=410, reason="Gone")
    collected = Outcomes()
    await launcher.start(collected)
    assert launcher.watcher is not None
    await asyncio.wait_for(launcher.watcher.synced.wait(), WAIT)
    name = await launched(launcher)
    await kube.set_conditions(name, {"type": "Complete"})
    assert await collected.next() == JobOutcome(QUEUE, name, JobPhase.SUCCEEDED)
    assert len(kube.server[kmock.action.LIST, JOBS]) == 2
    assert launcher.watcher.error_restarts == 0  # relisted at once, no backoff


async def test_api_errors_back_off_and_resume(
    kube: KubeEmulator, launcher: KubernetesLauncher
) -> None:
    kube.server[kmock.action.LIST, JOBS][:2] << kmock.KubernetesError(status=503)
    collected = Outcomes()
    await launcher.start(collected)
    name = await launched(launcher)
    await kube.set_conditions(name, {"type": "Complete"})
    assert await collected.next() == JobOutcome(QUEUE, name, JobPhase.SUCCEEDED)
    assert len(kube.server[kmock.action.LIST, JOBS]) == 3
    assert launcher.watcher is not None and launcher.watcher.error_restarts == 2


async def test_a_failing_handler_does_not_stop_the_watch(
    kube: KubeEmulator, launcher: KubernetesLauncher
) -> None:
    collected = Outcomes()

    async def flaky(outcome: JobOutcome) -> None:
        if outcome.name == job_name(QUEUE, "loader-producer", "api_candles_5m"):
            raise RuntimeError("handler bug")
        await collected(outcome)

    await launcher.start(flaky)
    first, second = await launched(launcher), await launched(launcher, job_type="api_trades")
    await kube.set_conditions(first, {"type": "Complete"})
    await kube.set_conditions(second, {"type": "Complete"})
    assert (await collected.next()).name == second


async def test_close_is_bounded_and_leaves_no_task(
    launcher: KubernetesLauncher, outcomes: Outcomes
) -> None:
    await asyncio.wait_for(launcher.close(), 2.0)
    names = {task.get_name() for task in asyncio.all_tasks()}
    assert "k8s-job-watch" not in names
    assert launcher.watcher is None
