"""`queue-manager monitor`: a live console view of every queue over the service's API.

The MOEX monitor of seed 000/001 as a client of the queue-manager: queues by symbol and
range, one row per job (records, rate, health, last update), and for stream loaders the
seed's per-ticker table with last-update times coloured by freshness and the connections
online; redrawn once a second. state.py keeps what is known, screen.py draws it, link.py
follows /ws/topic and reads queue documents over REST.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from rich.console import Console
from rich.live import Live

from app.aio import background, until_stopped
from app.monitor.link import Link, MonitorOptions, api_url, describe, topic_url
from app.monitor.screen import freshness_style, health_text, render, summary
from app.monitor.state import JobView, MonitorState, QueueView

__all__ = [
    "JobView",
    "MonitorOptions",
    "MonitorState",
    "QueueView",
    "api_url",
    "describe",
    "freshness_style",
    "health_text",
    "monitor",
    "render",
    "run_monitor",
    "summary",
    "topic_url",
]


async def monitor(
    url: str,
    queue_ids: list[str],
    token: str | None,
    *,
    console: Console,
    state: MonitorState,
    stop: asyncio.Event,
    options: MonitorOptions | None = None,
) -> None:
    """Follow the service and redraw until `stop` is set."""
    options = options or MonitorOptions()
    link = Link(url, queue_ids, token, state)
    with Live(render(state, options.clock()), console=console, auto_refresh=False) as live:
        async with background(_redraw(live, state, options)):
            await until_stopped(link.follow(options), stop)
        live.update(render(state, options.clock()), refresh=True)


async def _redraw(live: Live, state: MonitorState, options: MonitorOptions) -> None:
    while True:
        live.update(render(state, options.clock()), refresh=True)
        await asyncio.sleep(options.refresh_seconds)


def run_monitor(url: str, queue_ids: list[str], token: str | None) -> None:
    """CLI entry: run until Ctrl+C, then print a summary instead of a traceback."""
    console = Console()
    state = MonitorState(started=time.time())
    console.print(f"Following {topic_url(url, queue_ids)}")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            monitor(url, queue_ids, token, console=console, state=state, stop=asyncio.Event())
        )
    console.line()
    console.print(summary(state, time.time()))
