"""The monitor against a small local service (WebSocket /ws/topic plus the REST reads it
makes): catches up at each connect, names queues met in telemetry, reconnects, says why it
cannot connect, stops cleanly."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest
from rich.console import Console
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from app.bus.embedded import free_port
from app.monitor import MonitorOptions, MonitorState, monitor, render
from tests.fixtures.eventually import eventually
from tests.unit.test_monitor import (
    HISTORY_ID,
    MOEX_ID,
    document,
    figures,
    moex_document,
    plain,
    telemetry,
    ticker_stats,
)

pytestmark = pytest.mark.timeout(15)
NEWCOMER = "0b7e2c1a-1111-4222-8333-944455556666"


def documents() -> dict[str, dict[str, Any]]:
    finished = document(HISTORY_ID, status="finished")
    newcomer = document(NEWCOMER, symbol="ETHUSDT", time_range="2024-01-01:2024-01-03")
    return {MOEX_ID: moex_document(), HISTORY_ID: finished, NEWCOMER: newcomer}


class FakeService:
    """/ws/topic over WebSocket; GET /queues and /queues/{id} answered as the service does."""

    def __init__(self) -> None:
        self.sockets: list[str | None] = []
        self.reads: list[str] = []
        self.documents = documents()

    def read(self, connection: ServerConnection, request: Request) -> Response | None:
        if not request.path.startswith("/queues"):
            return None  # the WebSocket handshake goes on
        self.reads.append(request.path)
        if request.path.startswith("/queues?"):
            page = [self.documents[MOEX_ID], self.documents[HISTORY_ID]]
            return connection.respond(200, orjson.dumps({"data": page}).decode())
        found = self.documents.get(request.path.rsplit("/", 1)[1])
        status, body = (200, {"data": found}) if found else (404, {"message": "no such queue"})
        return connection.respond(status, orjson.dumps(body).decode())

    async def topic(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        self.sockets.append(ws.request.headers.get("Authorization"))
        stats = ticker_stats({"SBER": figures(0, 10 * len(self.sockets), open="1", close="2")})
        for message in (
            {"event": "heartbeat"},
            telemetry(MOEX_ID, "moex-loader", len(self.sockets), 10, stats),
            telemetry(NEWCOMER, "eth-loader", len(self.sockets), 5),
        ):
            await ws.send(orjson.dumps(message).decode())
        if len(self.sockets) == 1:
            ws.transport.abort()  # the first connection drops
        await ws.wait_closed()


async def run_until(
    url: str, ready: Callable[[MonitorState], bool], token: str | None = "tok"
) -> tuple[MonitorState, Awaitable[None], asyncio.Event, Console]:
    """Run the monitor until `ready(state)`; the state changes on messages and on REST
    reads alike, so it is polled."""
    state, stop = MonitorState(started=time.time()), asyncio.Event()
    options = MonitorOptions(refresh_seconds=0.05, backoff_initial=0.05)
    console = Console(file=io.StringIO(), width=160, record=True)
    task = asyncio.create_task(
        monitor(url, [], token, console=console, state=state, stop=stop, options=options)
    )
    await eventually(lambda: state, ready, within=5, what="the monitor's state")
    return state, task, stop, console


async def test_the_monitor_catches_up_names_newcomers_reconnects_and_stops() -> None:
    service = FakeService()
    async with serve(service.topic, "127.0.0.1", 0, process_request=service.read) as server:
        port = server.sockets[0].getsockname()[1]

        def ready(state: MonitorState) -> bool:
            queue = state.queues.get(NEWCOMER)
            return state.reconnects == 1 and state.connected and bool(queue and queue.known)

        state, task, stop, _ = await run_until(f"http://127.0.0.1:{port}", ready)
        stop.set()
        async with asyncio.timeout(2):
            await task
    assert service.sockets == ["Bearer tok", "Bearer tok"]
    assert service.reads.count("/queues?limit=100") == 2, "a catch-up at each connect"
    assert f"/queues/{NEWCOMER}" in service.reads
    assert set(state.queues) == {MOEX_ID, NEWCOMER}, "finished queues are not caught up"
    console = Console(file=io.StringIO(), width=160, record=True)
    console.print(render(state, time.time()))
    screen = plain(console.export_text())
    assert "SBER, GAZP, LKOH 2024-08-01 · moex" in screen
    assert "ETHUSDT 2024-01-01 → 2024-01-03 · binance" in screen
    assert "│ LKOH" in screen and "online" in screen


async def test_the_monitor_says_which_url_it_tries_and_why_it_fails() -> None:
    url = f"ws://127.0.0.1:{free_port()}/ws/topic"

    state, task, stop, console = await run_until(url, lambda s: s.problem is not None, None)
    stop.set()
    await task
    assert state.url == url and state.problem == "connection refused (no service listens there)"
    assert f"Cannot reach {url}: connection refused (no service listens there)." in plain(
        console.export_text()
    )
