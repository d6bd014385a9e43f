"""Racing work against a stop event: the loser is cancelled and awaited, failures surface."""

from __future__ import annotations

import asyncio

import pytest

from app.workers.moex.tasks import background, stopped_within, unless_stopped, until_stopped

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
