"""The async toolkit, in one place (as Kopf keeps its `aiokits`): capped backoff, racing
work against a stop event, cancel-and-wait, owned short-lived tasks, and the Supervisor
that keeps every long-lived task of the service running.

Nothing here knows about queues, Kafka or HTTP; the service, the jobs and the console
monitor all build on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

import structlog

from app.errors import QueueManagerError

log = structlog.get_logger(__name__)
T = TypeVar("T")


@dataclass
class Backoff:
    """Capped exponential delays with equal jitter, reset after a healthy run.

    Not stamina or tenacity: both retry one call until it succeeds, while our loops
    (consumers, watches, stream sessions, supervised tasks) never "succeed": they run until
    they drop, and the delay must reset after each healthy run. Both libraries would need
    a fresh retry context per run and hide the attempt count we show in readiness.
    """

    initial: float = 0.5
    cap: float = 30.0
    attempt: int = 0

    def next_delay(self) -> float:
        """Between half and all of min(cap, initial * 2**attempt); counts the attempt."""
        ceiling = min(self.cap, self.initial * 2 ** min(self.attempt, 32))
        self.attempt += 1
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0


# --- racing and cancelling ---------------------------------------------------------------
async def cancel_and_wait(*tasks: asyncio.Future[Any]) -> None:
    """Cancel tasks we own and wait until each has really ended. Our own cancellation still
    propagates; a task that had failed by itself re-raises its error here (failures
    surface, they are never swallowed)."""
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks)
    for task in tasks:
        error = None if task.cancelled() else task.exception()
        if error is not None:
            raise error


async def _race(work: Awaitable[T], stop: asyncio.Event) -> asyncio.Future[T]:
    """Run `work` until it ends or `stop` is set; the work, done or cancelled."""
    work_task = asyncio.ensure_future(work)
    stop_task = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({work_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await cancel_and_wait(stop_task)
        if not work_task.done():
            with contextlib.suppress(Exception):  # read from the task below
                await cancel_and_wait(work_task)
    return work_task


async def until_stopped(work: Awaitable[Any], stop: asyncio.Event) -> bool:
    """Run `work` until it ends or `stop` is set; True when the stop came first (the work
    was cancelled). The work's own failure is raised."""
    finished = await _race(work, stop)
    if finished.cancelled():
        return True
    finished.result()
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
    """A task that lives exactly as long as the `async with` block. Its failure is raised
    at the end of the block, unless the block is already raising."""
    task = asyncio.ensure_future(work)
    try:
        yield task
    except BaseException:
        with contextlib.suppress(Exception):
            await cancel_and_wait(task)
        raise
    await cancel_and_wait(task)


class OwnedTasks:
    """Short-lived background work we start and must not leak (e.g. stopping a queue's
    jobs after answering): named, logged when they fail, cancelled and awaited on close."""

    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(work, name=f"{self._owner}:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", task=task.get_name(), exc_info=task.exception())

    async def wait(self) -> None:
        """Wait for every task running now (tests and shutdown use it to settle)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def close(self) -> None:
        with contextlib.suppress(Exception):  # already logged by _finished
            await cancel_and_wait(*self._tasks)


# --- the supervisor ----------------------------------------------------------------------
class TaskState(StrEnum):
    RUNNING = "running"
    RESTARTING = "restarting"
    DONE = "done"


Work = Callable[[], Awaitable[None]]


@dataclass
class _Supervised:
    name: str
    work: Work
    backoff: Backoff
    until_done: bool
    state: TaskState = TaskState.RUNNING
    restarts: int = 0
    last_error: str | None = None
    run_started: float = 0.0
    task: asyncio.Task[None] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    fault: asyncio.Future[BaseException] | None = field(default=None, repr=False)


class Supervisor:
    """Keeps named long-lived tasks running: an unexpected exception of any type is logged
    (with its traceback unless it is one of our own errors), counted through `on_restart`,
    and the task restarts after a capped, jittered backoff. `problems()` names every task
    that is restarting, or that restarted and has not yet run `healthy_after` seconds:
    readiness reports them. `until_done` tasks (connecting to a dependency at start-up)
    are retried the same way until they return once.

    Register with `spawn(name, work)` where `work` is a coroutine function: it is called
    again for each restart. `close()` cancels and awaits every task.
    """

    def __init__(
        self,
        on_restart: Callable[[str], None] = lambda name: None,
        *,
        healthy_after: float = 5.0,
        backoff: tuple[float, float] = (0.1, 30.0),
    ) -> None:
        self._on_restart = on_restart
        self._healthy_after = healthy_after
        self._backoff = backoff
        self._tasks: dict[str, _Supervised] = {}
        self._closed = False

    def spawn(
        self, name: str, work: Work, *, backoff: Backoff | None = None, until_done: bool = False
    ) -> None:
        """Run `work()` under supervision; a name runs once at a time."""
        if self._closed:
            raise RuntimeError(f"supervisor closed: cannot start {name}")
        current = self._tasks.get(name)
        if current is not None and current.task is not None and not current.task.done():
            raise RuntimeError(f"task {name} is already supervised")
        entry = _Supervised(name, work, backoff or Backoff(*self._backoff), until_done)
        self._tasks[name] = entry
        entry.task = asyncio.create_task(self._keep_running(entry), name=f"supervised:{name}")

    async def cancel(self, name: str) -> None:
        """Stop one task and wait until it has ended."""
        entry = self._tasks.pop(name, None)
        if entry is not None and entry.task is not None:
            await cancel_and_wait(entry.task)

    async def close(self) -> None:
        """Stop every task and wait until each has ended; nothing is left running."""
        self._closed = True
        tasks = [entry.task for entry in self._tasks.values() if entry.task is not None]
        await cancel_and_wait(*tasks)

    async def wait_done(self, names: list[str], timeout_seconds: float) -> list[str]:
        """Wait (bounded) for `until_done` tasks; the names still not done."""
        entries = [self._tasks[name] for name in names if name in self._tasks]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_seconds):
                for entry in entries:
                    await entry.done.wait()
        return [entry.name for entry in entries if not entry.done.is_set()]

    def restarts(self, name: str) -> int:
        entry = self._tasks.get(name)
        return entry.restarts if entry else 0

    def state(self, name: str) -> TaskState | None:
        entry = self._tasks.get(name)
        return entry.state if entry else None

    def statuses(self) -> dict[str, str]:
        """Every task: "ok", or why it is not (for readiness)."""
        now = time.monotonic()
        return {name: self._problem(entry, now) or "ok" for name, entry in self._tasks.items()}

    def problems(self) -> dict[str, str]:
        return {name: why for name, why in self.statuses().items() if why != "ok"}

    def inject_fault(self, name: str, error: BaseException) -> None:
        """Test hook: the task's current run fails with `error` at its boundary, as if the
        work had raised it (the work is cancelled first). Used by fault tests only."""
        entry = self._tasks[name]
        if entry.fault is not None and not entry.fault.done():
            entry.fault.set_result(error)

    def _problem(self, entry: _Supervised, now: float) -> str | None:
        if entry.state is TaskState.DONE or entry.restarts == 0:
            return None
        why = f"{entry.last_error} ({entry.restarts} restarts)"
        if entry.state is TaskState.RESTARTING:
            return f"down, restarting after {why}"
        if now - entry.run_started < self._healthy_after:
            return f"restarting repeatedly: last failure {why}"
        return None

    async def _keep_running(self, entry: _Supervised) -> None:
        while True:
            entry.state, entry.run_started = TaskState.RUNNING, time.monotonic()
            try:
                await self._run_once(entry)
                if entry.until_done:
                    entry.state = TaskState.DONE
                    entry.done.set()
                    return
                raise RuntimeError(f"task {entry.name} returned; it should run until cancelled")
            except Exception as error:
                delay = self._failed(entry, error)
            await asyncio.sleep(delay)

    async def _run_once(self, entry: _Supervised) -> None:
        """The work, raced against an injected fault (the test hook)."""
        fault: asyncio.Future[BaseException] = asyncio.get_running_loop().create_future()
        entry.fault = fault
        work = asyncio.ensure_future(entry.work())
        racing: set[asyncio.Future[Any]] = {work, fault}
        try:
            await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not work.done():
                with contextlib.suppress(Exception):
                    await cancel_and_wait(work)
        if work.done() and not work.cancelled():
            work.result()
            return
        if fault.done():
            raise fault.result()
        raise RuntimeError(f"task {entry.name} was cancelled from inside")

    def _failed(self, entry: _Supervised, error: Exception) -> float:
        """Log, count and pick the delay before the next run."""
        if time.monotonic() - entry.run_started >= self._healthy_after:
            entry.backoff.reset()
        entry.state = TaskState.RESTARTING
        entry.restarts += 1
        entry.last_error = one_line(error)
        delay = entry.backoff.next_delay()
        self._log_failure(entry, error, delay)
        self._on_restart(entry.name)
        return delay

    def _log_failure(self, entry: _Supervised, error: Exception, delay: float) -> None:
        fields = {"task": entry.name, "restarts": entry.restarts, "retry_in": round(delay, 3)}
        if isinstance(error, QueueManagerError):  # ours: a dependency or input, no traceback
            log.warning("background task failed; restarting", error=error.message, **fields)
        else:
            log.error("background task crashed; restarting", exc_info=error, **fields)


def one_line(error: BaseException) -> str:
    detail = error.message if isinstance(error, QueueManagerError) else str(error)
    text = f"{type(error).__name__}: {detail}" if detail else type(error).__name__
    return " ".join(text.split())[:300]
