"""Follow our Jobs: list, then watch from the list's resourceVersion; report how each ends.

One supervised task (app/aio.Supervisor) runs the loop: a 410 Gone relists at once, any
other failure is the supervisor's (logged, counted, restarted after a capped, jittered
backoff) and the run starts again from a fresh list, so nothing missed while away is lost.
The client is synchronous: the stream is read line by line in worker threads, and close()
shuts the socket down so no thread stays blocked after the task is cancelled.

Several replicas each run a watcher and each reports the same outcomes; the queue service
applies an outcome idempotently, so no leader election is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import structlog
from kubernetes.watch.watch import iter_resp_lines
from urllib3 import HTTPResponse
from urllib3.exceptions import ReadTimeoutError

from app.aio import Backoff, Supervisor
from app.errors import LauncherUnavailable
from app.launchers.base import JobOutcome, OutcomeHandler
from app.launchers.k8s_api import KubeApi
from app.launchers.k8s_errors import ResourceVersionExpired
from app.launchers.k8s_render import MANAGED_SELECTOR
from app.launchers.k8s_status import is_managed
from app.launchers.k8s_tracker import OutcomeTracker

Json = dict[str, Any]
log = structlog.get_logger(__name__)
GONE = 410
MIN_STREAM_SECONDS = 1.0
"""An empty stream that ends sooner is a failure: back off instead of spinning."""


class JobWatcher:
    """Runs the watch as the supervised task `k8s-job-watch`; `synced` is set once the
    first list has been reconciled."""

    TASK = "k8s-job-watch"

    def __init__(
        self,
        api: KubeApi,
        on_outcome: OutcomeHandler,
        *,
        supervisor: Supervisor,
        backoff: Backoff,
        idle_timeout: float = 60.0,
    ) -> None:
        self._api, self._on_outcome, self._backoff = api, on_outcome, backoff
        self._supervisor = supervisor
        self._idle_timeout = idle_timeout
        self._tracker = OutcomeTracker()
        self._stream: HTTPResponse | None = None
        self._started = False
        self.synced = asyncio.Event()

    @property
    def error_restarts(self) -> int:
        """Restarts after a failure (not after 410 Gone): for metrics and tests."""
        return self._supervisor.restarts(self.TASK)

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._supervisor.spawn(self.TASK, self._watch_forever, backoff=self._backoff)

    async def close(self) -> None:
        """Cancel the task and unblock its reader thread; bounded by the socket shutdown."""
        if self._started:
            self._started = False
            await self._supervisor.cancel(self.TASK)
        self._shutdown_stream()

    async def _watch_forever(self) -> None:
        """List and watch; a 410 Gone lists again at once, other failures raise (the
        supervisor backs off and restarts)."""
        while True:
            try:
                await self._list_and_watch()
            except ResourceVersionExpired:
                log.info("k8s watch expired (410 Gone); listing again")

    async def _list_and_watch(self) -> None:
        version = await self._list()
        while True:
            version = await self._watch_from(version)

    async def _list(self) -> str:
        listing = await self._api.list_jobs(MANAGED_SELECTOR)
        jobs = [job for job in listing.get("items") or [] if is_managed(job)]
        await self._report(self._tracker.relisted(jobs))
        self._backoff.reset()
        self.synced.set()
        return str(listing.get("metadata", {}).get("resourceVersion") or "")

    async def _watch_from(self, version: str) -> str:
        """Read one watch stream to its end; returns the last resourceVersion seen."""
        self._stream = await self._api.open_watch(MANAGED_SELECTOR, version, self._idle_timeout)
        opened, events = time.monotonic(), 0
        try:
            lines = iter_resp_lines(self._stream)  # type: ignore[no-untyped-call]
            while (line := await asyncio.to_thread(next, lines, None)) is not None:
                if line.strip():
                    events += 1
                    version = await self._handle(json.loads(line), version)
        except ReadTimeoutError:
            return version  # a quiet stream: reopen it from the same version
        finally:
            self._shutdown_stream()
        if not events and time.monotonic() - opened < MIN_STREAM_SECONDS:
            raise LauncherUnavailable("the Kubernetes watch closed at once")  # back off
        return version

    async def _handle(self, event: Json, version: str) -> str:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            raise _stream_error(obj)
        if kind != "BOOKMARK" and is_managed(obj):
            outcome = self._tracker.gone(obj) if kind == "DELETED" else self._tracker.seen(obj)
            await self._report([outcome] if outcome else [])
        return str(obj.get("metadata", {}).get("resourceVersion") or version)

    async def _report(self, outcomes: list[JobOutcome]) -> None:
        for outcome in outcomes:
            try:
                await self._on_outcome(outcome)
            except Exception as error:  # the handler's failure must not stop the watch
                log.error("job outcome handler failed", job=outcome.name, error=repr(error))

    def _shutdown_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            # Wakes a reader thread blocked on the socket; a stream that has already ended
            # has released its connection and has nothing to wake.
            with contextlib.suppress(ValueError, RuntimeError, OSError):
                stream.shutdown()
            stream.close()


def _stream_error(status: Json) -> Exception:
    if status.get("code") == GONE:
        return ResourceVersionExpired(status.get("message") or "resource version too old")
    return LauncherUnavailable(
        f"the Kubernetes watch failed: {status.get('code')} "
        f"{status.get('reason')}: {status.get('message')}"
    )
