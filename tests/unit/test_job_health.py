"""A job's health: the board of what it retries, and `patiently` (app/workers/health.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from app.errors import BrokerUnavailable
from app.workers.health import GaveUp, RetryBoard, patiently

T = TypeVar("T")


async def patient(call: Callable[[], Awaitable[T]], give_up: float, **options: Any) -> T:
    return await patiently(
        call,
        what=options.pop("what", "w"),
        retries=options.pop("board", RetryBoard()),
        on=BrokerUnavailable,
        give_up_seconds=give_up,
        wait_initial=0.001,
        wait_max=0.002,
        wait_jitter=0.0,
        **options,
    )


def test_the_board_shows_the_longest_run_of_failures_until_each_recovers() -> None:
    board = RetryBoard()
    board.retrying("conn 1", 1, "refused", 0.5)
    board.retrying("conn 2", 4, "reset\n  by peer", 2.0, max_attempts=9)
    shown = board.current()
    assert shown is not None
    assert (shown.attempt, shown.max_attempts) == (4, 9)
    assert shown.last_error == "conn 2: reset by peer"  # one line, naming what failed
    assert board.failing("conn 2")
    board.recovered("conn 2")
    assert not board.failing("conn 2")
    assert board.current() is not None and board.current().attempt == 1  # type: ignore[union-attr]
    board.recovered("conn 1")
    assert board.current() is None


async def test_patiently_reports_every_failure_and_clears_on_success() -> None:
    board, calls = RetryBoard(), []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise BrokerUnavailable(f"down {len(calls)}")
        assert board.current() is not None and board.current().attempt == 2  # type: ignore[union-attr]
        return "done"

    result = await patient(flaky, 5, board=board)
    assert result == "done" and board.current() is None


async def test_patiently_gives_up_in_time_naming_what_and_why() -> None:
    async def down() -> None:
        raise BrokerUnavailable("connection refused")

    with pytest.raises(GaveUp) as gave_up:
        await patient(down, 0.05, what="GET http://x/y")
    assert gave_up.value.message == (
        "gave up on GET http://x/y after failing for 0.05 s: connection refused"
    )
    with pytest.raises(GaveUp, match="after failing 3 times: connection refused"):
        await patient(down, 5, max_attempts=3)


async def test_a_timeout_of_the_call_itself_is_not_taken_for_giving_up() -> None:
    async def slow() -> None:
        await asyncio.wait_for(asyncio.sleep(1), 0.001)

    with pytest.raises(TimeoutError):
        await patient(slow, 5)
