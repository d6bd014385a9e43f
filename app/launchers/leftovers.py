"""Processes of a previous life of the service: found by the record of each launch, killed
before their job is launched again (issue 12, item 3: one process per job attempt).

The local launcher writes `<job>.pid` beside the job's log at every launch: the pid, its
start time (from /proc: a reused pid has another) and the service's pid. The record goes
when the watcher sees the job exit, so a record found at start-up belongs to a job whose
service died while it ran. Its process group (the job and anything it started) should have
died with it (parent-death signal); whatever still runs is killed here. A group whose
leader is still the child of the service that launched it is left alone: that service
lives (it is not ours to touch).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)
KILL_WAIT_SECONDS = 5.0
POLL_SECONDS = 0.02


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    state: str
    ppid: int
    pgrp: int
    started: int
    """Clock ticks after boot (/proc/PID/stat field 22)."""


@dataclass(frozen=True)
class LaunchRecord:
    pid: int
    started: int
    service: int


def record_launch(path: Path, pid: int, service: int | None = None) -> None:
    """Remember a launched job's process (right after the spawn) and who launched it
    (default: this process)."""
    info = process_info(pid)
    started = info.started if info else 0
    path.write_text(f"{pid} {started} {service or os.getpid()}\n")


def read_record(path: Path) -> LaunchRecord | None:
    try:
        pid, started, service = (int(part) for part in path.read_text().split())
    except (OSError, ValueError):
        return None
    return LaunchRecord(pid, started, service)


def process_info(pid: int) -> ProcessInfo | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return ProcessInfo(pid, fields[0], int(fields[1]), int(fields[2]), int(fields[19]))


def leftovers(record: LaunchRecord, markers: tuple[bytes, ...]) -> list[int]:
    """The live processes of the recorded job's group that its service no longer runs.
    One of `markers` (`JOB_RUN_NAME=...`, `JOB_NAME=...`) must be in a process's
    environment: a pid is not proof."""
    group = [p for p in _all_processes() if p.pgrp == record.pid and p.state != "Z"]
    group = [p for p in group if _marked(_environment(p.pid), markers)]
    leader = next((p for p in group if p.pid == record.pid), None)
    if leader is not None and leader.started != record.started:
        return []  # the pid was reused by a process that is not this job
    if leader is not None and leader.ppid == record.service:
        return []  # the service that launched it still runs it
    return [p.pid for p in group]


def _marked(environment: list[bytes], markers: tuple[bytes, ...]) -> bool:
    return any(marker in environment for marker in markers)


async def kill_leftovers(path: Path, markers: tuple[bytes, ...]) -> list[int]:
    """Kill what is left of the recorded job and wait until it is gone; returns the pids
    that were killed. The record is removed."""
    record, found = await asyncio.to_thread(_find, path, markers)
    if record is not None and found:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(record.pid, signal.SIGKILL)
        await _gone(found)
        log.warning("killed what was left of a job from before a restart", pids=found)
    await asyncio.to_thread(path.unlink, True)
    return found


def _find(path: Path, markers: tuple[bytes, ...]) -> tuple[LaunchRecord | None, list[int]]:
    record = read_record(path)
    return record, leftovers(record, markers) if record is not None else []


async def _gone(pids: list[int]) -> None:
    """Until every pid has exited (a zombie has: only its reaper is missing)."""
    deadline = asyncio.get_running_loop().time() + KILL_WAIT_SECONDS
    while any(_running(pid) for pid in pids):
        if asyncio.get_running_loop().time() > deadline:
            log.error("leftover processes survive SIGKILL", pids=pids)
            return
        await asyncio.sleep(POLL_SECONDS)


def _running(pid: int) -> bool:
    info = process_info(pid)
    return info is not None and info.state != "Z"


def _all_processes() -> list[ProcessInfo]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (info := process_info(int(entry.name))) is not None:
            found.append(info)
    return found


def _environment(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return []
