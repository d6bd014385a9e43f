"""Owned background work: race a coroutine against a stop event, cancel and await losers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


async def cancel_and_wait(task: asyncio.Future[Any]) -> None:
    """Cancel a task and wait for it, without swallowing our own cancellation."""
    task.cancel()
    await asyncio.wait({task})
    if not task.cancelled():
        task.exception()  # retrieved: the caller chose to discard it


async def _race(work: Awaitable[T], stop: asyncio.Event) -> asyncio.Future[T]:
    """Run `work` until it ends or `stop` is set; the work, done or cancelled."""
    work_task = asyncio.ensure_future(work)
    stop_task = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({work_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await cancel_and_wait(stop_task)
        if not work_task.done():
            await cancel_and_wait(work_task)
    return work_task


async def until_stopped(work: Awaitable[Any], stop: asyncio.Event) -> bool:
    """Run `work` until it ends or `stop` is set; True when the stop came first."""
    finished = await _race(work, stop)
    if finished.cancelled():
        return True
    finished.result()  # re-raises the work's failure
    return False


async def unless_stopped(work: Awaitable[T], stop: asyncio.Event) -> T | None:
    """The work's result, or None when `stop` came first (the work is then cancelled)."""
    finished = await _race(work, stop)
    return None if finished.cancelled() else finished.result()


async def stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    """Wait up to `seconds` for the stop event; True when it was set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()


@contextlib.asynccontextmanager
async def background(work: Coroutine[Any, Any, Any]) -> AsyncIterator[asyncio.Task[Any]]:
    """A task that lives exactly as long as the `async with` block."""
    task = asyncio.ensure_future(work)
    try:
        yield task
    finally:
        await cancel_and_wait(task)
