"""Owned background work: race a coroutine against a stop event, cancel and await losers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel a task and wait for it, without swallowing our own cancellation."""
    task.cancel()
    await asyncio.wait({task})
    if not task.cancelled():
        task.exception()  # retrieved: the caller chose to discard it


async def until_stopped(work: Coroutine[Any, Any, Any], stop: asyncio.Event) -> bool:
    """Run `work` until it ends or `stop` is set; True when the stop came first."""
    work_task = asyncio.ensure_future(work)
    stop_task = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({work_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await cancel_and_wait(stop_task)
        if not work_task.done():
            await cancel_and_wait(work_task)
    if work_task.cancelled():
        return True
    work_task.result()  # re-raises the work's failure
    return False


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
