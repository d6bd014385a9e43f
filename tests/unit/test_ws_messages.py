"""What the fan-out shows WebSocket clients of queue-control: valid telemetry only."""

import orjson
import pytest

from app.control.messages import TELEMETRY_FIELDS, JobTelemetry, from_control

REPORT = {
    "type": "telemetry",
    "queue_id": "q1",
    "job": "loader-q1",
    "status": "loading",
    "records_written": 5,
    "seq": 3,
    "ts": "2024-06-01T00:00:00Z",
    "stats": {"n": 1},
}


def test_telemetry_becomes_job_telemetry_with_its_job_and_seq() -> None:
    shown = from_control(orjson.dumps({**REPORT, "host": "ignored"}))
    assert shown is not None
    message, job, seq = shown
    assert (job, seq, message.queue_id) == ("q1/loader-q1", 3, "q1")
    assert orjson.loads(message.json) == {
        "event": "job.telemetry",
        "queue_id": "q1",
        "job": "loader-q1",
        "status": "loading",
        "records_written": 5,
        "last_loaded_timestamp": None,
        "error_message": None,
        "seq": 3,
        "ts": "2024-06-01T00:00:00Z",
        "stats": {"n": 1},
        "retry": None,
        "gaps_detected": None,
        "gaps_open": None,
        "records_backfilled": None,
        "gaps": None,
        "rest_weight": None,
        "health": "ok",
    }
    assert message.text == "📊 Queue q1 · loader-q1 → loading (5 records)"


def test_a_retrying_job_shows_its_attempt_and_error() -> None:
    retry = {"attempt": 2, "max_attempts": 20, "last_error": "GET http://x: refused"}
    shown = from_control(orjson.dumps({**REPORT, "retry": {**retry, "retry_at": None}}))
    assert shown is not None
    body = orjson.loads(shown[0].json)
    assert body["health"] == "retrying" and body["retry"] == {**retry, "retry_at": None}
    assert shown[0].text.endswith("⚠ retrying 2/20: GET http://x: refused")


def test_a_stream_job_with_gaps_shows_them() -> None:
    counts = {"gaps_detected": 3, "gaps_open": 1, "records_backfilled": 1234, "gaps": []}
    shown = from_control(orjson.dumps({**REPORT, **counts}))
    assert shown is not None
    body = orjson.loads(shown[0].json)
    assert {name: body[name] for name in counts} == counts
    assert shown[0].text.endswith("(5 records) · 3 gaps, 1 open, 1234 records backfilled")


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        orjson.dumps({**REPORT, "seq": -1}),
        orjson.dumps({**REPORT, "status": "dancing"}),
        orjson.dumps({**REPORT, "gaps": [{"symbol": "BTCUSDT"}]}),
        orjson.dumps({**REPORT, "gaps_open": -1}),
        b'{"type": "command", "command": "stop", "command_id": "c1", "queue_id": "q1"}',
    ],
)
def test_what_the_dispatcher_would_refuse_is_not_shown(raw: bytes) -> None:
    assert from_control(raw) is None


def test_job_telemetry_has_every_shown_field_in_order() -> None:
    """The struct is built positionally from TELEMETRY_FIELDS: the two must not drift."""
    assert JobTelemetry.__struct_fields__ == ("event", *TELEMETRY_FIELDS, "health")


def test_the_text_line_is_made_only_when_asked_for_and_once() -> None:
    shown = from_control(orjson.dumps(REPORT))
    assert shown is not None
    message = shown[0]
    assert not isinstance(message.line, str), "no text client asked yet"
    line = message.text
    assert line == "📊 Queue q1 · loader-q1 → loading (5 records)"
    assert isinstance(message.line, str), "made once, kept for the next text client"
