"""The monitor's state and screen: feed /ws/topic messages, render, read the table back."""

from __future__ import annotations

import io
import re
import time
from typing import Any

import pytest
from rich.console import Console
from rich.table import Table

from app.monitor import MonitorState, freshness_style, render, summary, topic_url

NOW = 1_769_065_200.0


def telemetry(
    job: str, tickers: dict[str, dict[str, Any]], updates: int = 100, queue_id: str = "q1"
) -> dict[str, Any]:
    stats = {
        "connections_online": 29,
        "connections_total": 30,
        "updates": updates,
        "tickers_seen": 145,
        "tickers_total": 1500,
        "with_prices": 87,
        "online": list(range(1, 30)),
        "tickers": tickers,
    }
    return {
        "event": "job.telemetry",
        "queue_id": queue_id,
        "job": job,
        "status": "loading",
        "records_written": 10,
        "stats": stats,
    }


def figures(age: float, updates: int, **prices: str) -> dict[str, Any]:
    return {
        "open": None,
        "high": None,
        "low": None,
        "close": None,
        "volume": None,
        "bid": None,
        "ask": None,
        "last": None,
        **prices,
        "updates": updates,
        "last_update": NOW - age,
    }


def screen(state: MonitorState) -> str:
    console = Console(
        file=io.StringIO(), record=True, width=160, force_terminal=True, color_system="standard"
    )
    console.print(render(state, NOW))
    return console.export_text(styles=True)


def row(text: str, ticker: str) -> str:
    (line,) = [
        line for line in text.splitlines() if f" {ticker} " in re.sub(r"\x1b\[[\d;]*m", "", line)
    ]
    return line


def plain(text: str) -> str:
    return re.sub(r"\x1b\[[\d;]*m", "", text)


@pytest.mark.parametrize(
    ("age", "style"),
    [(0, "green"), (4.9, "green"), (5, "yellow"), (29.9, "yellow"), (30, "red"), (600, "red")],
)
def test_freshness_thresholds(age: float, style: str) -> None:
    assert freshness_style(age) == style


def test_candle_table_shows_ohlc_volume_updates_and_coloured_times() -> None:
    state = MonitorState(started=NOW - 98)
    state.apply(
        telemetry(
            "candles",
            {
                "SBER": figures(
                    1,
                    45,
                    open="283.33",
                    high="283.57",
                    low="283.20",
                    close="283.27",
                    volume="112405",
                ),
                "GAZP": figures(
                    10,
                    42,
                    open="115.63",
                    high="115.77",
                    low="115.59",
                    close="115.61",
                    volume="212200",
                ),
                "LKOH": figures(
                    40,
                    38,
                    open="5825.50",
                    high="5830.00",
                    low="5824.50",
                    close="5826.00",
                    volume="1063",
                ),
            },
        ),
        NOW,
    )
    text = screen(state)
    assert "Connections: 29/30 | Updates: 100 | Tickers: 145/1500 | With Prices: 87" in plain(text)
    assert "candles online (29): 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, ... 29" in plain(text)
    assert "Uptime: 98s" in plain(text)
    assert [cell.strip() for cell in plain(row(text, "SBER")).split("│")[1:-1]] == [
        "SBER",
        "283.33",
        "283.57",
        "283.20",
        "283.27",
        "112,405",
        "45",
        _clock(NOW - 1),
    ]
    assert re.search(r"\x1b\[32m *\d\d:\d\d:\d\d", row(text, "SBER")), "fresh: green"
    assert re.search(r"\x1b\[33m *\d\d:\d\d:\d\d", row(text, "GAZP")), "recent: yellow"
    assert re.search(r"\x1b\[31m *\d\d:\d\d:\d\d", row(text, "LKOH")), "stale: red"
    assert re.search(r"\x1b\[31m *283\.27", row(text, "SBER")), "close below open: red"
    assert re.search(r"\x1b\[32m *5826\.00", row(text, "LKOH")), "close above open: green"
    assert "BID" not in plain(text)


def test_busiest_tickers_first_and_limited_merging_jobs() -> None:
    state = MonitorState(started=NOW)
    state.apply(telemetry("books", {"SBER": figures(1, 5, bid="1.1", ask="1.2")}), NOW)
    state.apply(
        telemetry(
            "trades",
            {"SBER": figures(1, 5, last="1.15"), "GAZP": figures(1, 7, last="2")},
            updates=50,
        ),
        NOW,
    )
    lines = [plain(line) for line in screen(state).splitlines() if "│" in line]
    assert [line.split("│")[1].strip() for line in lines] == ["SBER", "GAZP"]
    assert [cell.strip() for cell in lines[0].split("│")[2:6]] == ["1.1", "1.2", "1.15", "-"]
    assert "10" in lines[0].split("│")[6], "updates summed over jobs"
    assert "Updates: 150" in plain(screen(state))
    table = render(state, NOW, limit=1).renderables[2]
    assert isinstance(table, Table) and table.row_count == 1


def test_queue_events_heartbeats_rates_and_foreign_queues() -> None:
    state = MonitorState(started=NOW - 20, queue_ids=frozenset({"q1"}))
    state.apply(telemetry("candles", {}, updates=100), NOW - 10)
    state.apply({"event": "heartbeat"}, NOW - 5)
    state.apply({"event": "queue.loading", "queue_id": "q1", "status": "loading"}, NOW - 5)
    state.apply(telemetry("candles", {}, updates=300), NOW)
    state.apply(telemetry("other", {}, updates=999, queue_id="q2"), NOW)
    assert state.total("updates") == 300 and state.messages == 5
    assert state.rate(1) == pytest.approx(20.0) and state.rate(2) == pytest.approx(0.3)
    text = plain(screen(state))
    assert "Queues: q1: loading" in text and "q2" not in text
    assert "300 updates" in summary(state, NOW)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://h:8000", "ws://h:8000/ws/topic?queue_id=a&queue_id=b"),
        ("https://h/api/", "wss://h/api/ws/topic?queue_id=a&queue_id=b"),
        ("ws://h/ws/topic?format=json", "ws://h/ws/topic?format=json&queue_id=a&queue_id=b"),
    ],
)
def test_topic_url(url: str, expected: str) -> None:
    assert topic_url(url, ["a", "b"]) == expected


def _clock(moment: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(moment))


def test_health_shows_beside_the_status_retrying_in_yellow_degraded_in_red() -> None:
    state = MonitorState(started=NOW)
    retrying = {
        "state": "retrying",
        "attempt": 3,
        "max_attempts": 20,
        "last_error": "GET http://127.0.0.1:9/api/v3/klines: ConnectError: refused",
    }
    state.apply(
        {
            "event": "queue.updated",
            "queue_id": "q1",
            "status": "loading",
            "data": {"health": retrying},
        },
        NOW,
    )
    degraded = {"state": "degraded", "reason": "arango-connector (ws_trades) failed: exit code 1"}
    state.apply(
        {
            "event": "queue.updated",
            "queue_id": "q2",
            "status": "loading",
            "data": {"health": degraded},
        },
        NOW,
    )
    state.apply({**telemetry("loader-q3", {}), "queue_id": "q3", "retry": retrying}, NOW)
    shown = plain(screen(state))
    assert "Queues: q1: loading, q2: loading, q3: loading" in shown
    assert "\nq1 [retrying · attempt 3 of 20: GET http://127.0.0.1:9/api/v3/klines" in shown
    assert "\nq2 [degraded: arango-connector (ws_trades) failed: exit code 1]" in shown
    assert "loader-q3 [retrying · attempt 3 of 20: GET http" in shown
    styled = screen(state)
    assert "\x1b[1;33m [retrying" in styled and "\x1b[1;31m [degraded" in styled
