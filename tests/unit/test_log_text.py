"""A job's JSON log read back as text: what a person needs, routine lines left out."""

from __future__ import annotations

import json
from typing import Any

from app.log_text import human_lines, readable


def line(event: str, level: str = "info", **fields: Any) -> str:
    record = {"event": event, "level": level, "timestamp": "2026-12-02T07:09:36.895935Z"}
    return json.dumps({**fields, **record})


def test_time_level_message_and_the_fields_the_message_does_not_say() -> None:
    record = json.loads(
        line("GET /klines: attempt 3 of 20 failed", "warning", attempt=3, symbol="BTC USDT")
    )
    assert human_lines(record) == [
        '2026-12-02 07:09:36.895 WARNING GET /klines: attempt 3 of 20 failed  symbol="BTC USDT"'
    ]


def test_routine_lines_are_left_out_and_counted_unless_asked_for() -> None:
    raw = [
        line("telemetry", status="starting"),
        line("telemetry", routine=True, status="loading", seq=3),
        line("telemetry", routine=True, status="loading", seq=4),
        "Fatal Python error: Segmentation fault",
        line("job failed", "error", queue_id="q1", job="j", logger="app.workers.runtime"),
    ]
    log = readable(raw)
    assert log.omitted == 2
    assert log.lines == [
        "2026-12-02 07:09:36.895 INFO    telemetry  status=starting",
        "Fatal Python error: Segmentation fault",  # not JSON: passed through as it is
        "2026-12-02 07:09:36.895 ERROR   job failed",
    ]
    assert len(readable(raw, routine=True).lines) == 5


def test_tail_counts_records_and_a_traceback_keeps_its_lines() -> None:
    trace = 'Traceback (most recent call last):\n  File "x.py", line 1\nRuntimeError: boom'
    raw = [line("first"), line("second"), line("job failed", "error", exception=trace)]
    assert readable(raw, tail=2).lines[1:] == [
        "2026-12-02 07:09:36.895 ERROR   job failed",
        "    Traceback (most recent call last):",
        '      File "x.py", line 1',
        "    RuntimeError: boom",
    ]
    assert readable(raw, tail=2).lines[0].endswith("second")


def test_structured_tracebacks_of_older_jobs_become_lines_too() -> None:
    frames = [{"filename": "/app/x.py", "lineno": 7, "name": "main", "locals": {"a": "1"}}]
    exception = [{"exc_type": "ValueError", "exc_value": "bad", "frames": frames}]
    assert human_lines(json.loads(line("job failed", "error", exception=exception)))[1:] == [
        "    Traceback (most recent call last):",
        '      File "/app/x.py", line 7, in main',
        "    ValueError: bad",
    ]


def test_secrets_are_blanked_in_records_and_in_raw_lines() -> None:
    raw = [line("login", kafka_password="hunter2"), "connect password=hunter2 failed"]
    text = "\n".join(readable(raw).lines)
    assert "hunter2" not in text and "kafka_password=***" in text
