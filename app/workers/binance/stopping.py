"""Stop promptly: run a job body until it ends or the runtime asks it to stop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any


async def until_stopped(stop: asyncio.Event, work: Coroutine[Any, Any, None]) -> bool:
    """Run `work`; cancel and await it if `stop` is set first. True when it ran to the end.

    Waits (Retry-After, bans, backoff) can be long, so polling `stop` between steps is not
    enough: cancellation interrupts them at once, and nothing is left running.
    """
    body = asyncio.create_task(work)
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({body, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await cancel_and_wait(stopper)
        if not body.done():
            await cancel_and_wait(body)
    if body.cancelled():
        return False
    body.result()
    return True


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel a task we own and wait until it has really ended."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
