"""The monitor's state and screen: feed /ws/topic messages and queue documents, render, read
the screen back (plain and with its colours)."""

from __future__ import annotations

import errno
import io
import re
import socket
import time
from typing import Any

import pytest
from rich.console import Console
from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus
from websockets.http11 import Response

from app.monitor import (
    MonitorState,
    api_url,
    describe,
    freshness_style,
    render,
    summary,
    topic_url,
)

NOW = 1_769_065_200.0
MOEX_ID = "76f434b0-7043-4048-a872-7c93d19282bc"
HISTORY_ID = "d12a8058-32ff-4511-a78a-b7f307cd7b32"


def iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def document(queue_id: str, status: str = "loading", **fields: Any) -> dict[str, Any]:
    return {
        "id": queue_id,
        "symbol": "BTCUSDT",
        "symbols": [],
        "exchange": "binance",
        "time_range": "2024-06-01:2024-06-30",
        "status": status,
        "created_at": iso(NOW - 60),
        "updated_at": iso(NOW - 2),
        "jobs": [],
        **fields,
    }


def job(name: str, target: str, job_type: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "target": target, "type": job_type, "status": "loading", **fields}


def moex_document() -> dict[str, Any]:
    jobs = [
        job("moex-loader", "loader-producer", "ws_candles"),
        job("moex-connector", "arango-connector", "ws_candles"),
    ]
    return document(
        MOEX_ID,
        symbol="SBER",
        symbols=["SBER", "GAZP", "LKOH"],
        exchange="moex",
        time_range="2024-08-01:2024-08-01",
        jobs=jobs,
    )


def telemetry(
    queue_id: str,
    name: str,
    seq: int,
    records: int,
    stats: dict[str, Any] | None = None,
    **more: Any,
) -> dict[str, Any]:
    return {
        "event": "job.telemetry",
        "queue_id": queue_id,
        "job": name,
        "status": "loading",
        "records_written": records,
        "seq": seq,
        "stats": stats,
        **more,
    }


def ticker_stats(tickers: dict[str, dict[str, Any]], seen: int | None = None) -> dict[str, Any]:
    return {
        "connections_online": 29,
        "connections_total": 30,
        "updates": 100,
        "tickers_seen": len(tickers) if seen is None else seen,
        "tickers_total": 1500,
        "with_prices": len(tickers),
        "online": list(range(1, 30)),
        "tickers": tickers,
    }


def figures(age: float, updates: int, **prices: str) -> dict[str, Any]:
    empty = dict.fromkeys(("open", "high", "low", "close", "volume", "bid", "ask", "last"))
    return {**empty, **prices, "updates": updates, "last_update": NOW - age}


def screen(state: MonitorState, **options: Any) -> str:
    console = Console(
        file=io.StringIO(), record=True, width=200, force_terminal=True, color_system="standard"
    )
    console.print(render(state, NOW, **options))
    return console.export_text(styles=True)


def plain(text: str) -> str:
    return re.sub(r"\x1b\[[\d;]*m", "", text)


def row(text: str, first: str) -> str:
    (line,) = [line for line in text.splitlines() if re.match(rf"^\W*{first}\b", plain(line))]
    return line


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in plain(line).split("│")[1:-1]]


def clock(moment: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(moment))


@pytest.mark.parametrize(
    ("age", "style"),
    [(0, "green"), (4.9, "green"), (5, "yellow"), (29.9, "yellow"), (30, "red"), (600, "red")],
)
def test_freshness_thresholds(age: float, style: str) -> None:
    assert freshness_style(age) == style


def test_a_stream_loader_shows_the_seeds_ticker_table_and_silent_tickers_as_dashes() -> None:
    state = MonitorState(started=NOW - 98, connected=True)
    state.take_document(moex_document())
    candles = {
        "SBER": figures(
            1, 45, open="283.33", high="283.57", low="283.20", close="283.27", volume="112405"
        ),
        "GAZP": figures(
            10, 42, open="115.63", high="115.77", low="115.59", close="115.61", volume="212200"
        ),
    }
    state.apply(telemetry(MOEX_ID, "moex-loader", 3, 87, ticker_stats(candles)), NOW)
    text = screen(state)
    assert "SBER, GAZP, LKOH 2024-08-01 · moex · loading" in plain(text)
    assert (
        "loader-producer · ws_candles: Connections: 29/30 | Updates: 100 | Tickers: 2/1500"
        " | With Prices: 2" in plain(text)
    )
    assert "Online (29): 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, ... 29" in plain(text)
    assert cells(row(text, "│ SBER")) == [
        "SBER",
        "283.33",
        "283.57",
        "283.20",
        "283.27",
        "112,405",
        "45",
        clock(NOW - 1),
    ]
    assert cells(row(text, "│ LKOH")) == ["LKOH", "—", "—", "—", "—", "—", "0", "—"]
    assert re.search(r"\x1b\[32m *\d\d:\d\d:\d\d", row(text, "│ SBER")), "fresh: green"
    assert re.search(r"\x1b\[33m *\d\d:\d\d:\d\d", row(text, "│ GAZP")), "recent: yellow"
    assert re.search(r"\x1b\[31m *283\.27", row(text, "│ SBER")), "close below open: red"
    assert "BID" not in plain(text)
    rows = [cells(line)[0] for line in text.splitlines() if "│" in line]
    assert rows == ["SBER", "GAZP", "LKOH"], "busiest first, silent ones last"


def test_a_truncated_snapshot_lists_no_ticker_as_silent() -> None:
    """Only the busiest tickers travel in telemetry: a ticker missing from a snapshot that
    leaves out some updated ones may have updated; it is not shown as silent."""
    state = MonitorState(started=NOW)
    state.take_document(moex_document())
    stats = ticker_stats({"SBER": figures(1, 5, last="1")}, seen=2)
    state.apply(telemetry(MOEX_ID, "moex-loader", 1, 5, stats), NOW)
    text = plain(screen(state))
    assert "│ SBER" in text and "LKOH │" not in text and "│ GAZP" not in text


def test_other_jobs_get_one_row_with_records_rate_health_and_last_update() -> None:
    state = MonitorState(started=NOW, connected=True)
    state.take_document(
        document(
            HISTORY_ID,
            jobs=[
                job("h-loader", "loader-producer", "api_candles_1m", seq=1, records_written=100),
                job("h-connector", "arango-connector", "api_candles_1m"),
            ],
            updated_at=iso(NOW - 20),
        )
    )
    state.apply(telemetry(HISTORY_ID, "h-loader", 2, 1_100), NOW - 10)
    state.apply(telemetry(HISTORY_ID, "h-loader", 3, 2_100), NOW)
    retry = {"attempt": 3, "max_attempts": 20, "last_error": "GET /klines: refused"}
    state.apply(telemetry(HISTORY_ID, "h-connector", 0, 0, retry=retry), NOW - 40)
    text = screen(state)
    assert "BTCUSDT 2024-06-01 → 2024-06-30 · binance · loading" in plain(text)
    loader = row(text, "loader-producer")
    assert plain(loader).split() == [
        "loader-producer",
        "·",
        "api_candles_1m",
        "loading",
        "2,100",
        "100.0",
        "ok",
        clock(NOW),
    ]
    assert "\x1b[32m" in loader.split("ok")[1], "heard of just now: green"
    connector = row(text, "arango-connector")
    assert "retrying 3/20" in plain(connector)
    assert re.search(r"\x1b\[31m *" + clock(NOW - 40), connector), "silent for 40 s: red"


def test_a_binance_loader_shows_its_rest_weight_share_and_a_wait() -> None:
    weight = {"share": 2400, "budget": 4800, "loaders": 2, "version": 9, "used": 812}
    state = MonitorState(started=NOW, connected=True)
    state.take_document(
        document(
            HISTORY_ID,
            jobs=[
                job("h-loader", "loader-producer", "api_trades", seq=1, rest_weight=weight),
                job("h-connector", "arango-connector", "api_trades"),
            ],
        )
    )
    text = screen(state)
    assert plain(row(text, "loader-producer")).rstrip().endswith("812/2,400 a min · 2 loaders")
    assert plain(row(text, "arango-connector")).rstrip().endswith("—")
    waiting = {**weight, "used": 900, "waiting_until": iso(NOW + 30)}
    state.apply(telemetry(HISTORY_ID, "h-loader", 2, 10, rest_weight=waiting), NOW)
    loader = row(screen(state), "loader-producer")
    assert plain(loader).rstrip().endswith("900/2,400 a min · 2 loaders · waiting")
    assert "\x1b[1;33m" in loader.split("loaders")[1], "waiting: yellow"


def test_other_queues_have_no_rest_weight_column() -> None:
    state = MonitorState(started=NOW, connected=True)
    state.take_document(document(HISTORY_ID, jobs=[job("c", "arango-connector", "api_trades")]))
    assert "REST weight" not in plain(screen(state))


def test_an_ended_queue_is_neither_rated_nor_coloured_stale() -> None:
    state = MonitorState(started=NOW)
    ended = job("h-loader", "loader-producer", "api_candles_1m", status="finished", seq=9)
    state.take_document(document(HISTORY_ID, status="finished", jobs=[ended]))
    state.take_document(document(MOEX_ID, created_at=iso(NOW - 600)))
    line = row(screen(state), "loader-producer")
    assert plain(line).split()[3:6] == ["finished", "0", "—"]
    assert "\x1b[31m" not in line and "\x1b[33m" not in line
    lines = plain(screen(state)).splitlines()
    titles = [line for line in lines if "2024-06-01 → 2024-06-30 ·" in line]
    assert [t.split(" · ")[-1].split()[0] for t in titles] == ["loading", "finished"], (
        "running queues first"
    )


def test_a_queue_met_only_in_telemetry_is_named_once_its_document_is_read() -> None:
    state = MonitorState(started=NOW)
    state.apply(telemetry(HISTORY_ID, "h-loader", 0, 5), NOW)
    assert state.unnamed() == [HISTORY_ID]
    assert "queue d12a8058 · loading" not in plain(screen(state))  # status not known yet
    assert "queue d12a8058" in plain(screen(state))
    state.take_document(document(HISTORY_ID))
    assert state.unnamed() == []
    assert "BTCUSDT 2024-06-01 → 2024-06-30" in plain(screen(state))


def test_followed_queues_only_and_newer_telemetry_wins() -> None:
    state = MonitorState(started=NOW, queue_ids=frozenset({MOEX_ID}))
    state.apply(telemetry(HISTORY_ID, "h-loader", 0, 5), NOW)
    state.take_document(moex_document())
    state.apply(telemetry(MOEX_ID, "moex-connector", 5, 50), NOW)
    state.apply(telemetry(MOEX_ID, "moex-connector", 4, 40), NOW)
    stale = {
        **moex_document(),
        "jobs": [
            job("moex-connector", "arango-connector", "ws_candles", seq=4, records_written=40)
        ],
    }
    state.apply(
        {"event": "queue.updated", "queue_id": MOEX_ID, "status": "loading", "data": stale}, NOW
    )
    assert set(state.queues) == {MOEX_ID}
    assert state.queues[MOEX_ID].jobs["moex-connector"].records == 50


def test_health_beside_the_queue_with_its_reason() -> None:
    state = MonitorState(started=NOW)
    retrying = {
        "state": "retrying",
        "attempt": 3,
        "max_attempts": 20,
        "last_error": "GET http://127.0.0.1:9/api/v3/klines: ConnectError: refused",
    }
    degraded = {"state": "degraded", "reason": "arango-connector (ws_trades) failed: exit 1"}
    state.take_document(document(HISTORY_ID, health=retrying))
    state.take_document(moex_document() | {"health": degraded})
    text = screen(state)
    assert "loading [retrying · attempt 3 of 20: GET http://127.0.0.1:9/api/v3/klines" in plain(
        text
    )
    assert "loading [degraded: arango-connector (ws_trades) failed: exit 1]" in plain(text)
    assert "\x1b[1;33m [retrying" in text and "\x1b[1;31m [degraded" in text


def test_the_link_line_names_the_url_and_why_it_cannot_connect() -> None:
    state = MonitorState(started=NOW - 5, url="ws://127.0.0.1:8300/ws/topic")
    state.problem, state.retry_at, state.reconnects = "connection refused (x)", NOW + 2.5, 2
    text = plain(screen(state))
    assert "Queue monitor · ws://127.0.0.1:8300/ws/topic · offline" in text
    assert (
        "Cannot reach ws://127.0.0.1:8300/ws/topic: connection refused (x). "
        "Next try in 2.5 s (attempt 3)." in text
    )
    assert "Waiting for the service…" in text
    state.connected, state.problem = True, None
    assert "No running queue yet" in plain(screen(state))
    assert "0 queues, 2 reconnects" in summary(state, NOW)


def test_many_queues_are_cut_to_the_newest_running_ones() -> None:
    state = MonitorState(started=NOW)
    for n in range(5):
        state.take_document(document(f"q{n}", symbol=f"S{n}", created_at=iso(NOW - n)))
    text = plain(screen(state, max_queues=2))
    assert "S0 " in text and "S1 " in text and "S2 " not in text
    assert "… 3 more queues (--queue-id to choose)" in text


def invalid_status(code: int) -> InvalidStatus:
    return InvalidStatus(Response(code, "refused", Headers()))


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), "connection refused"),
        (OSError("Multiple exceptions: [Errno 111] Connect call failed"), "connection refused"),
        (socket.gaierror(-2, "Name or service not known"), "unknown host"),
        (TimeoutError(), "no answer in time"),
        (invalid_status(401), "HTTP 401: a token is needed (--token or API_TOKEN)"),
        (invalid_status(503), "refused the WebSocket with HTTP 503"),
    ],
)
def test_why_the_service_cannot_be_reached(error: BaseException, said: str) -> None:
    assert said in describe(error)


def test_schedule_runs_and_the_queues_they_made_are_named() -> None:
    state = MonitorState(started=NOW - 20)
    made = {"id": "s1", "name": "nightly", "slot": "2026-03-01T00:05:00Z", "manual": False}
    event = {"event": "queue.starting", "queue_id": "q1", "status": "starting"}
    state.apply({**event, "data": document("q1", "starting", schedule=made)}, NOW)
    triggered = {
        "event": "schedule.triggered",
        "schedule": "nightly",
        "queue_id": "q1",
        "outcome": "triggered",
        "slot": "2026-03-01T00:05:00Z",
    }
    skipped = {
        "event": "schedule.skipped",
        "schedule": "hourly",
        "queue_id": None,
        "outcome": "skipped",
        "slot": "2026-03-01T01:00:00Z",
        "reason": "concurrency=forbid: the previous run's queue q0 is still loading",
    }
    state.apply(triggered, NOW)
    state.apply(skipped, NOW)
    text = plain(screen(state))
    assert "BTCUSDT 2024-06-01 → 2024-06-30 ⏰ nightly · binance · starting" in text
    assert "Schedule nightly: triggered for 2026-03-01T00:05:00Z: queue q1" in text
    assert "Schedule hourly: skipped for 2026-03-01T01:00:00Z: concurrency=forbid" in text
    assert set(state.queues) == {"q1"}, "a schedule event makes no queue of its own"


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


def test_the_rest_api_is_beside_the_websocket() -> None:
    assert api_url("ws://h:8000/ws/topic?queue_id=a") == "http://h:8000"
    assert api_url("wss://h/api/ws/topic") == "https://h/api"


def test_a_job_with_gaps_shows_them_yellow_while_some_are_open() -> None:
    state = MonitorState(started=NOW, connected=True)
    loader = job("s-loader", "loader-producer", "ws_trades", seq=1, gaps_detected=0)
    state.take_document(document(HISTORY_ID, jobs=[loader]))
    assert "gaps of" not in plain(screen(state)), "none found: nothing to say"
    counts = {"gaps_detected": 3, "gaps_open": 1, "records_backfilled": 1234}
    state.apply(telemetry(HISTORY_ID, "s-loader", 2, 500, None, **counts), NOW)
    text = screen(state)
    line = "gaps of loader-producer · ws_trades: 3 found, 1 open, 1,234 records backfilled"
    assert line in plain(text)
    assert "\x1b[1;33mgaps of loader-producer" in text
    state.apply(telemetry(HISTORY_ID, "s-loader", 3, 600, None, **{**counts, "gaps_open": 0}), NOW)
    assert "\x1b[1;33mgaps of" not in screen(state), "all backfilled: no longer yellow"


def gap(first: int, state: str = "open", **more: Any) -> dict[str, Any]:
    return {
        "symbol": "BTCUSDT",
        "stream": "btcusdt@trade",
        "key": "trade_id",
        "first": first,
        "last": first + 99,
        "from_ms": 1_717_243_201_000,
        "to_ms": 1_717_243_203_000,
        "state": state,
        "backfilled": 0,
        "detected_ms": first,
        "reason": None,
        **more,
    }


def test_the_footer_lists_the_gaps_not_backfilled_yet() -> None:
    state = MonitorState(started=NOW, connected=True)
    loader = job("s-loader", "loader-producer", "ws_trades", seq=1)
    state.take_document(document(HISTORY_ID, jobs=[loader]))
    assert "Open gaps: none" in plain(screen(state))
    gaps = [gap(100, "filling"), gap(500, "filled"), gap(900, reason="HTTP 451")]
    state.apply(telemetry(HISTORY_ID, "s-loader", 2, 500, None, gaps=gaps), NOW)
    text = plain(screen(state))
    footer = text[text.index("Open gaps:") :].splitlines()[0]
    assert footer == (
        "Open gaps: 2 · BTCUSDT btcusdt@trade trade_id 100..199 "
        "(06-01 12:00:01..06-01 12:00:03 UTC), filling · BTCUSDT btcusdt@trade trade_id "
        "900..999 (06-01 12:00:01..06-01 12:00:03 UTC): HTTP 451"
    ), "the filled one is left out"
    assert "\x1b[1;33mOpen gaps: 2" in screen(state)
    state.apply(telemetry(HISTORY_ID, "s-loader", 3, 600, None, gaps=[gap(100, "filled")]), NOW)
    assert "Open gaps: none" in plain(screen(state)), "all backfilled"


def pipeline_document() -> dict[str, Any]:
    """Seed 002's historical pipeline mid-run: the trades loader retried once, the candles
    connector failed, so graph-builder was skipped; the trades connector waits for its loader."""
    attempts = [
        {"attempt": 1, "status": "error", "error_message": "exit code 1"},
        {"attempt": 2, "status": "loading"},
    ]
    return document(
        HISTORY_ID,
        jobs=[
            job(
                "lt",
                "loader-producer",
                "api_trades",
                attempt=2,
                attempts=attempts,
                request={"target": "loader-producer", "type": "api_trades", "retry": {"limit": 3}},
            ),
            job(
                "ct",
                "arango-connector",
                "api_trades",
                status="pending",
                depends_on=["lt"],
                waiting_for="waiting for loader-producer · api_trades to finish",
            ),
            job(
                "cc",
                "arango-connector",
                "api_candles_5m",
                status="error",
                error_message="exit code 4",
            ),
            job(
                "gb",
                "graph-builder",
                "gnn_graph",
                status="skipped",
                depends_on=["ct", "cc"],
                error_message="arango-connector · api_candles_5m failed",
            ),
        ],
    )


def test_a_pipeline_shows_upstreams_waiting_skips_and_attempts() -> None:
    state = MonitorState(started=NOW, connected=True)
    state.take_document(pipeline_document())
    text = screen(state)
    header = plain(row(text, "Job"))
    assert header.split()[-2:] == ["After", "Why"]
    loader = plain(row(text, "loader-producer"))
    assert "loading · attempt 2/4" in loader
    waiting = row(text, "arango-connector · api_trades")
    assert "loader·api_trades" in plain(waiting)
    assert plain(waiting).rstrip().endswith("waiting for loader-producer · api_trades to finish")
    assert "\x1b[33mwaiting for" in waiting, "waiting: yellow"
    skipped = row(text, "graph-builder")
    assert "connector·api_trades, connector·api_candles_5m" in plain(skipped)
    assert plain(skipped).rstrip().endswith("skipped: arango-connector · api_candles_5m failed")
    assert "\x1b[2mskipped" in skipped, "skipped: dim"
    assert "attempt" not in plain(row(text, "arango-connector · api_candles_5m"))


def test_retrying_between_attempts_counts_the_attempt_from_health() -> None:
    retrying = {"state": "retrying", "attempt": 1, "max_attempts": 5, "last_error": "exit 1"}
    attempts = [{"attempt": 1, "status": "error", "error_message": "exit 1"}]
    waiting = "retrying in 30 s (attempt 2 of 5): exit 1"
    state = MonitorState(started=NOW, connected=True)
    state.take_document(
        document(
            HISTORY_ID,
            jobs=[
                job(
                    "lt",
                    "loader-producer",
                    "api_trades",
                    status="pending",
                    attempt=1,
                    attempts=attempts,
                    health=retrying,
                    waiting_for=waiting,
                ),
            ],
        )
    )
    line = plain(row(screen(state), "loader-producer"))
    assert "pending · attempt 2/5" in line and line.rstrip().endswith(waiting)
    assert cells_of(line)[4] == "retrying", "the attempt is said once, beside the status"
    assert "After" not in plain(screen(state)), "no upstreams: no column"


def cells_of(line: str) -> list[str]:
    return [cell for cell in re.split(r" {2,}", line.strip()) if cell]


def test_a_new_attempt_counts_its_telemetry_afresh() -> None:
    """Attempt 2 is a new process whose seq starts at 0 again: its reports are not taken for
    late ones of attempt 1."""
    state = MonitorState(started=NOW, connected=True)
    first = job("lt", "loader-producer", "api_trades", attempt=1, seq=40, records_written=500)
    state.take_document(document(HISTORY_ID, jobs=[first]))
    state.apply(telemetry(HISTORY_ID, "lt", 41, 600), NOW - 5)
    attempts = [{"attempt": 1, "status": "error"}, {"attempt": 2, "status": "starting"}]
    second = job("lt", "loader-producer", "api_trades", status="starting", attempt=2,
                 attempts=attempts, seq=-1, records_written=600)  # fmt: skip
    state.take_document(document(HISTORY_ID, jobs=[second]))
    state.apply(telemetry(HISTORY_ID, "lt", 0, 650), NOW)
    line = plain(row(screen(state), "loader-producer"))
    assert "loading · attempt 2" in line and "650" in line


def test_a_queue_without_a_pipeline_has_no_after_or_why_column() -> None:
    state = MonitorState(started=NOW, connected=True)
    state.take_document(document(HISTORY_ID, jobs=[job("c", "arango-connector", "api_trades")]))
    text = plain(screen(state))
    assert "After" not in text and "Why" not in text and "attempt" not in text


def test_a_skip_reason_the_service_words_as_a_skip_is_not_said_twice() -> None:
    reason = "skipped: arango-connector · api_candles_5m failed"
    skipped = job("v", "visualizer", "graph_metrics_stream", status="skipped", error_message=reason)
    state = MonitorState(started=NOW, connected=True)
    state.take_document(document(HISTORY_ID, jobs=[skipped]))
    assert plain(row(screen(state), "visualizer")).rstrip().endswith(f"  {reason}")
