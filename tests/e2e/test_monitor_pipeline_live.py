"""`queue-manager monitor` following a real pipeline of the real service (a child process):
a step waiting for its upstream says so, a loader between two attempts shows `attempt 2/4`,
a step whose upstream failed shows `skipped` with the reason, and each row names its
upstreams. The monitor runs in this process on a recording console, as the CLI runs it."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from app.monitor import MonitorOptions, MonitorState, monitor, render
from app.monitor.state import JobView
from tests.e2e.test_dashboard_pipeline_browser import PIPELINE, pipeline_service
from tests.fixtures.eventually import eventually
from tests.fixtures.service import ServiceProcess
from tests.unit.test_monitor import plain

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
__all__ = ["pipeline_service"]  # the fixture, shared with the dashboard's pipeline test


def job_of(state: MonitorState, target: str) -> JobView | None:
    jobs = [job for queue in state.queues.values() for job in queue.jobs.values()]
    return next((job for job in jobs if job.target == target), None)


def seen(target: str, holds: Callable[[JobView], bool]) -> Callable[[MonitorState], bool]:
    return lambda state: (job := job_of(state, target)) is not None and holds(job)


def screen(state: MonitorState) -> str:
    console = Console(file=io.StringIO(), width=240, record=True)
    console.print(render(state, time.time()))
    return plain(console.export_text())


def line_of(text: str, target: str) -> str:
    return next(line for line in text.splitlines() if line.strip().startswith(target))


async def test_the_monitor_shows_waiting_attempts_skips_and_upstreams(
    pipeline_service: ServiceProcess, tmp_path: Path
) -> None:
    async with httpx.AsyncClient(base_url=pipeline_service.url, timeout=10) as http:
        response = await http.post("/queues/start", json=PIPELINE)
        assert response.status_code == 200, response.text
    state, stop = MonitorState(started=time.time()), asyncio.Event()
    options = MonitorOptions(refresh_seconds=0.2)
    task = asyncio.create_task(
        monitor(
            pipeline_service.url,
            [],
            None,
            console=Console(file=io.StringIO()),
            state=state,
            stop=stop,
            options=options,
        )
    )
    try:
        await eventually(
            lambda: state,
            seen("loader-producer", lambda j: (j.waiting_for or "").startswith("retrying in")),
            within=30,
            what="the loader waiting to retry",
        )
        waiting = screen(state)
        await eventually(
            lambda: state,
            seen("visualizer", lambda j: j.status == "skipped"),
            within=30,
            what="the visualizer skipped",
        )
        (tmp_path / "gate").touch()  # the loader's second attempt may finish now
        await eventually(
            lambda: state,
            seen("graph-builder", lambda j: j.status == "finished"),
            within=40,
            what="graph-builder finished",
        )
        ended = screen(state)
    finally:
        stop.set()
        await task
    (tmp_path / "monitor.txt").write_text(waiting + "\n\n" + ended)
    loader = line_of(waiting, "loader-producer")
    assert "pending · attempt 2/4" in loader and "retrying in 8 s (attempt 2 of 4)" in loader
    graph = line_of(waiting, "graph-builder")
    assert "pending" in graph and "loader·api_trades" in graph
    assert "waiting for loader-producer · api_trades to finish" in graph
    assert "loading · attempt 2/4" in line_of(ended, "loader-producer") or (
        "finished · attempt 2/4" in line_of(ended, "loader-producer")
    )
    visualizer = line_of(ended, "visualizer")
    assert "skipped" in visualizer and "connector·api_candles_5m" in visualizer
    assert "skipped: arango-connector · api_candles_5m failed" in visualizer
    assert "skipped: skipped" not in visualizer
