"""The monitor against a small local /ws/topic server: follows, reconnects, stops cleanly."""

from __future__ import annotations

import asyncio
import io
import time

import orjson
import pytest
from rich.console import Console
from websockets.asyncio.server import ServerConnection, serve

from app.monitor import MonitorOptions, MonitorState, monitor
from tests.fakes.moex_job import Changes
from tests.unit.test_monitor import figures, telemetry

pytestmark = pytest.mark.timeout(10)


async def test_monitor_follows_reconnects_and_stops() -> None:
    requests: list[tuple[str, str | None]] = []

    async def topic(ws: ServerConnection) -> None:
        assert ws.request is not None
        requests.append((ws.request.path, ws.request.headers.get("Authorization")))
        updates = 10 * len(requests)
        ticker = figures(0, updates, open="1.00", close="1.50", volume="7")
        for message in (
            {"event": "heartbeat"},
            {"event": "queue.loading", "queue_id": "q1", "status": "loading"},
            telemetry("candles", {"SBER": ticker}, updates=updates),
        ):
            await ws.send(orjson.dumps(message).decode())
        if len(requests) == 1:
            ws.transport.abort()  # the first connection drops
        await ws.wait_closed()

    async with serve(topic, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        state, changes, stop = MonitorState(started=time.time()), Changes(), asyncio.Event()
        console = Console(file=io.StringIO(), width=140, record=True)
        options = MonitorOptions(
            refresh_seconds=0.05, backoff_initial=0.01, on_message=lambda _: changes.notify()
        )
        task = asyncio.create_task(
            monitor(
                f"http://127.0.0.1:{port}",
                ["q1"],
                "tok",
                console=console,
                state=state,
                stop=stop,
                options=options,
            )
        )
        await changes.wait_until(lambda: state.total("updates") == 20 and state.connected)
        stop.set()
        async with asyncio.timeout(2):
            await task
    assert state.reconnects == 1 and state.queues == {"q1": "loading"}
    assert requests == [("/ws/topic?queue_id=q1", "Bearer tok")] * 2
    screen = console.export_text()
    assert "SBER" in screen and "1.50" in screen and "Updates: 20" in screen
