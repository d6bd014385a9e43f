"""When a pending job's inputs are ready, and the words for waiting and skipping (issue 16).

A history input (`api_*`, `gnn_graph`, `gnn_train`, anything bounded) is ready when its
producer `finished`; a real-time input (`ws_*`, `realtime_*`) when its producer is
`loading` and has written records (or finished). A producer that failed, was stopped or
was skipped never will be: its dependents are skipped, with that as the reason.
"""

from __future__ import annotations

from enum import StrEnum

from app.models.queues import JobState
from app.models.status import Status

REALTIME_PREFIXES = ("ws_", "realtime_")
BLOCKING = {Status.ERROR: "failed", Status.STOPPED: "was stopped", Status.SKIPPED: "was skipped"}


class Input(StrEnum):
    READY = "ready"
    WAITING = "waiting"
    BLOCKED = "blocked"


def label(job: JobState) -> str:
    """How a sentence names a job: `arango-connector · api_trades`."""
    return f"{job.target} · {job.type}"


def is_realtime(job: JobState) -> bool:
    return job.type.startswith(REALTIME_PREFIXES)


def input_of(producer: JobState, status: Status | None = None) -> Input:
    """The state of what `producer` writes; `status` overrides its stored one (a skip
    decided in the same pass)."""
    status = status or producer.status
    if status in BLOCKING:
        return Input.BLOCKED
    if status is Status.FINISHED:
        return Input.READY
    if is_realtime(producer) and status is Status.LOADING and producer.records_written > 0:
        return Input.READY
    return Input.WAITING


def waiting_sentence(producers: list[JobState]) -> str:
    """`waiting for arango-connector · api_trades to finish` (real-time producers: to be
    loading with records)."""
    history = [label(job) for job in producers if not is_realtime(job)]
    realtime = [label(job) for job in producers if is_realtime(job)]
    parts = []
    if history:
        parts.append(f"{' and '.join(history)} to finish")
    if realtime:
        parts.append(f"{' and '.join(realtime)} to be loading with records")
    return "waiting for " + "; and for ".join(parts)


def skip_reason(producer: JobState, status: Status | None = None) -> str:
    """`skipped: arango-connector · api_trades failed`."""
    return f"skipped: {label(producer)} {BLOCKING[status or producer.status]}"
