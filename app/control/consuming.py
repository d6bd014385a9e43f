"""The consumer life cycle shared by the dispatcher and the fan-out: start a consumer, run
its loop, and after a broker failure start a fresh one with capped backoff, forever (cancel
to stop). A consumer that ran a while before failing starts again without waiting long."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from app.aio import Backoff
from app.bus import Consumer, broker_errors
from app.errors import QueueManagerError

log = structlog.get_logger(__name__)
FIRST_BACKOFF = 0.1
MAX_BACKOFF = 5.0
HEALTHY_RUN_SECONDS = 30.0
FETCH_MAX_WAIT_MS = 50
"""Tansu answers a fetch at this limit rather than when data arrives: aiokafka's 500 ms
default put ~130 ms (p50) into every live update and idled the dispatcher between polls."""
FETCH_MIN_BYTES = 64 * 1024
"""Under load a fetch waits for this much (or FETCH_MAX_WAIT_MS): fewer, larger polls, so
fewer round trips, commits and store writes per message; a quiet topic waits no longer,
as Tansu answers at the wait limit anyway."""


async def consume_forever(
    name: str,
    make_consumer: Callable[[], Consumer],
    loop: Callable[[Consumer], Awaitable[None]],
) -> None:
    """Broker failures (our errors) reconnect here; anything else ends the task for its
    supervisor to log, count and restart."""
    backoff = Backoff(FIRST_BACKOFF, MAX_BACKOFF)
    while True:
        started = asyncio.get_running_loop().time()
        error_message = "the consumer loop ended"
        try:
            await _run_once(name, make_consumer(), loop)
        except QueueManagerError as error:
            error_message = error.message
        if asyncio.get_running_loop().time() - started > HEALTHY_RUN_SECONDS:
            backoff.reset()
        delay = backoff.next_delay()
        log.warning(f"{name} failed, reconnecting", error=error_message, backoff=delay)
        await asyncio.sleep(delay)


async def _run_once(
    name: str,
    consumer: Consumer,
    loop: Callable[[Consumer], Awaitable[None]],
) -> None:
    try:
        with broker_errors(f"start the {name}"):
            await consumer.start()
        await loop(consumer)
    finally:
        await consumer.stop()
