"""`queue-manager monitor` against the real service (a child process) running real jobs: the
MOEX stream loader on the local STOMP server (LKOH never trades), its connector, and a
Binance history load from the local REST server. The monitor runs in this process on a
recording console, as the CLI runs it."""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from app.monitor import MonitorOptions, MonitorState, monitor, render
from app.monitor.state import QueueView
from tests.fakes.binance_rest import FakeBinanceRest
from tests.fakes.moex_stomp import FakeMoexServer, Session, Sub
from tests.fixtures.eventually import eventually
from tests.fixtures.service import ServiceProcess, service
from tests.unit.test_monitor import plain

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
MOEX = {"exchange": "moex", "symbols": ["SBER", "GAZP", "LKOH"], "type": "ws"}
HISTORY = {"symbol": "BTCUSDT", "type": "api", "time_range": "2023-01-01:2024-12-31"}


class OneTickerSilent(FakeMoexServer):
    """LKOH is subscribed but never trades: no snapshot, no update."""

    async def _message(
        self, session: Session, sub: Sub, kind: str, columns: list[str], rows: list[list[Any]]
    ) -> None:
        if not sub.ticker.endswith(".LKOH"):
            await super()._message(session, sub, kind, columns, rows)


@contextlib.asynccontextmanager
async def exchanges_and_service(tmp_path: Path) -> AsyncIterator[ServiceProcess]:
    binance = FakeBinanceRest()
    await binance.start()
    async with OneTickerSilent(update_interval=0.3) as moex:
        env = {
            "DATA_DIR": str(tmp_path / "var"),
            "MOEX_WS_URL": moex.url,
            "BINANCE_REST_URL": binance.url,
            "TELEMETRY_INTERVAL_SECONDS": "0.5",
            "JOB_STOP_GRACE_SECONDS": "2",
        }
        with contextlib.ExitStack() as stack:  # entered and left off the loop the fakes use
            running = await asyncio.to_thread(
                stack.enter_context, service(env, tmp_path / "service.log")
            )
            try:
                yield running
            finally:
                await asyncio.to_thread(stack.close)
    await binance.stop()


async def start(http: httpx.AsyncClient, body: dict[str, Any]) -> str:
    response = await http.post(
        "/queues/start", json={"time_range": "2024-08-01:2024-08-01", **body}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["queue_id"])


def healthy(queue: QueueView) -> bool:
    """The queue and its jobs report ok: a connector may retry for a moment at its start
    (the loader's topic not there yet), which the header would show beside the status."""
    healths = [queue.health, *(job.health for job in queue.jobs.values())]
    return all((health or {}).get("state", "ok") == "ok" for health in healths)


def showing_everything(moex: str, history: str) -> Any:
    def check(state: MonitorState) -> bool:
        stream, rest = state.queues.get(moex), state.queues.get(history)
        if not (stream and rest and stream.known and rest.known):
            return False
        if not (healthy(stream) and healthy(rest)):
            return False
        loaders = [j for j in stream.jobs.values() if j.target == "loader-producer"]
        tickers = (loaders[0].stats or {}).get("tickers", {}) if loaders else {}
        history_loaders = [j for j in rest.jobs.values() if j.target == "loader-producer"]
        return len(tickers) == 2 and bool(history_loaders and history_loaders[0].rate)

    return check


async def test_the_monitor_shows_every_queue_of_a_real_service(tmp_path: Path) -> None:
    async with exchanges_and_service(tmp_path) as running:
        async with httpx.AsyncClient(base_url=running.url, timeout=10) as http:
            moex, history = await start(http, MOEX), await start(http, HISTORY)
        state, stop = MonitorState(started=time.time()), asyncio.Event()
        console = Console(file=io.StringIO(), width=180)
        options = MonitorOptions(refresh_seconds=0.2)
        task = asyncio.create_task(
            monitor(running.url, [], None, console=console, state=state, stop=stop, options=options)
        )
        try:
            await eventually(
                lambda: state, showing_everything(moex, history), within=60, what="monitor state"
            )
        finally:
            stop.set()
            await task
    shown = Console(file=io.StringIO(), width=180, record=True)
    shown.print(render(state, time.time()))
    screen = plain(shown.export_text())
    (tmp_path / "monitor.txt").write_text(screen)
    assert f"SBER, GAZP, LKOH 2024-08-01 · moex · loading  id {moex}" in screen
    assert f"BTCUSDT 2023-01-01 → 2024-12-31 · binance · loading  id {history}" in screen
    assert "loader-producer · ws_candles: Connections: 1/1 |" in screen
    assert "Tickers: 2/3 | With Prices: 2" in screen and "Online (1): 1" in screen
    lkoh = next(line for line in screen.splitlines() if line.startswith("│ LKOH"))
    assert [cell.strip() for cell in lkoh.split("│")[1:-1]][1:] == ["—"] * 5 + ["0", "—"]
    sber = next(line for line in screen.splitlines() if line.startswith("│ SBER"))
    assert "—" not in sber, "a ticker that updated shows its candle"
    history_loader = next(
        line for line in screen.splitlines() if "loader-producer · api_candles_1m" in line
    )
    status, records, rate = history_loader.split()[3:6]
    assert status == "loading" and int(records.replace(",", "")) > 0
    assert float(rate.replace(",", "")) > 0, "records per second of a running job"
    assert (
        "arango-connector · ws_candles" in screen and "arango-connector · api_candles_1m" in screen
    )
