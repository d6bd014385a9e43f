"""The async toolkit: racing work against a stop event (the loser is cancelled and awaited,
failures surface), cancel-and-wait, Backoff, and the Supervisor's promises."""

from __future__ import annotations

import asyncio

import pytest

from app.aio import (
    Backoff,
    Supervisor,
    TaskState,
    background,
    cancel_and_wait,
    stopped_within,
    unless_stopped,
    until_stopped,
)
from app.errors import BrokerUnavailable
from tests.fixtures.eventually import eventually

pytestmark = pytest.mark.timeout(5)


async def test_stop_cancels_the_work_and_leaves_no_task() -> None:
    stop, started, cancelled = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    racing = asyncio.create_task(until_stopped(forever(), stop))
    await started.wait()
    stop.set()
    assert await racing is True and cancelled.is_set()


async def test_finished_work_returns_its_result_and_failures_are_raised() -> None:
    stop = asyncio.Event()

    async def answer() -> int:
        return 42

    async def fail() -> None:
        raise ValueError("boom")

    assert await unless_stopped(answer(), stop) == 42
    assert await until_stopped(answer(), stop) is False
    with pytest.raises(ValueError, match="boom"):
        await until_stopped(fail(), stop)


async def test_stopped_within_and_background_task_lifetime() -> None:
    stop = asyncio.Event()
    assert await stopped_within(stop, 0.01) is False
    async with background(asyncio.Event().wait()) as task:
        assert not task.done()
    assert task.cancelled()
    stop.set()
    assert await stopped_within(stop, 5) is True


async def test_cancel_and_wait_raises_what_a_task_failed_with() -> None:
    async def fail() -> None:
        raise ValueError("helper broke")

    failed = asyncio.ensure_future(fail())
    await asyncio.sleep(0)
    with pytest.raises(ValueError, match="helper broke"):
        await cancel_and_wait(failed, asyncio.ensure_future(asyncio.Event().wait()))


async def test_cancelling_the_waiter_still_cancels_it() -> None:
    stubborn_done = asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0.05)
            stubborn_done.set()

    task = asyncio.ensure_future(stubborn())
    await asyncio.sleep(0)
    waiter = asyncio.ensure_future(cancel_and_wait(task))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await stubborn_done.wait()


class Flaky:
    """Work that fails `failures` times (any exception type), then runs until cancelled."""

    def __init__(self, failures: int, error: type[Exception] = KeyError) -> None:
        self.failures, self.error = failures, error
        self.runs = 0
        self.running = asyncio.Event()
        self.cancelled = 0

    async def __call__(self) -> None:
        self.runs += 1
        if self.runs <= self.failures:
            raise self.error(f"run {self.runs} failed")
        self.running.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise


def quick(healthy_after: float = 60.0) -> tuple[Supervisor, list[str]]:
    counted: list[str] = []
    return Supervisor(counted.append, healthy_after=healthy_after, backoff=(0.001, 0.002)), counted


async def test_any_exception_is_counted_and_the_task_restarts() -> None:
    supervisor, counted = quick()
    work = Flaky(2, KeyError)
    supervisor.spawn("lag-recorder", work)
    await asyncio.wait_for(work.running.wait(), 5)
    assert counted == ["lag-recorder", "lag-recorder"] and supervisor.restarts("lag-recorder") == 2
    problem = supervisor.problems()["lag-recorder"]
    assert "restarting repeatedly" in problem and "KeyError" in problem and "2 restarts" in problem
    await supervisor.close()
    assert work.cancelled == 1


async def test_a_task_that_ran_long_enough_is_ok_again() -> None:
    supervisor, _ = quick(healthy_after=0.05)
    work = Flaky(1)
    supervisor.spawn("fanout", work)
    await asyncio.wait_for(work.running.wait(), 5)
    await eventually(lambda: supervisor.statuses()["fanout"] == "ok", within=5)
    await supervisor.close()


async def test_a_task_waiting_to_restart_is_down() -> None:
    supervisor = Supervisor(healthy_after=0, backoff=(30.0, 60.0))
    supervisor.spawn("dispatcher", Flaky(1, RuntimeError))
    await eventually(lambda: supervisor.state("dispatcher"), TaskState.RESTARTING.__eq__)
    assert supervisor.problems() == {
        "dispatcher": "down, restarting after RuntimeError: run 1 failed (1 restarts)"
    }
    await supervisor.close()
    assert asyncio.all_tasks() == {asyncio.current_task()}, "close left a task behind"


async def test_a_long_lived_task_that_returns_is_restarted() -> None:
    supervisor, counted = quick()
    ended = 0

    async def returns() -> None:
        nonlocal ended
        ended += 1
        if ended > 1:
            await asyncio.Event().wait()

    supervisor.spawn("heartbeat", returns)
    await eventually(lambda: ended >= 2, within=5)
    assert counted == ["heartbeat"] and "returned" in supervisor.problems()["heartbeat"]
    await supervisor.close()


async def test_until_done_retries_until_it_returns_once() -> None:
    supervisor, counted = quick()
    attempts = 0

    async def connect() -> None:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise BrokerUnavailable("connect to Kafka: refused")

    supervisor.spawn("broker-connect", connect, until_done=True)
    assert await supervisor.wait_done(["broker-connect"], 5) == []
    assert attempts == 3 and counted == ["broker-connect"] * 2
    assert supervisor.state("broker-connect") is TaskState.DONE
    assert supervisor.statuses() == {"broker-connect": "ok"}
    await supervisor.close()


async def test_an_injected_fault_ends_the_run_at_its_boundary_and_restarts_it() -> None:
    supervisor, counted = quick()
    work = Flaky(0)
    supervisor.spawn("dispatcher", work)
    await asyncio.wait_for(work.running.wait(), 5)
    work.running.clear()
    supervisor.inject_fault("dispatcher", OSError("injected"))
    await asyncio.wait_for(work.running.wait(), 5)
    assert (work.runs, work.cancelled, counted) == (2, 1, ["dispatcher"])
    assert "OSError: injected" in supervisor.problems()["dispatcher"]
    await supervisor.close()


async def test_a_closed_supervisor_refuses_new_tasks() -> None:
    supervisor = Supervisor()
    await supervisor.close()
    with pytest.raises(RuntimeError, match="closed"):
        supervisor.spawn("late", Flaky(0))


def test_backoff_doubles_with_jitter_up_to_its_cap_and_resets() -> None:
    backoff = Backoff(initial=1.0, cap=4.0)
    delays = [backoff.next_delay() for _ in range(5)]
    ceilings = [1, 2, 4, 4, 4]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    backoff.reset()
    assert backoff.next_delay() <= 1.0
