"""One logging setup: JSON lines for machines, text for people, secrets redacted in both,
retries told in words."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
import structlog

from app.logging import configure_logging
from app.retries import retrying


def test_logs_are_json_with_queue_id_and_secrets_redacted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO")
    structlog.get_logger("test").info(
        "connecting",
        queue_id="q-1",
        kafka_password="hunter2",
        detail="dsn user=me password=hunter2 host=x",
        api_token="abc",
    )
    logging.getLogger("third.party").warning("login with passcode: hunter2")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    assert lines[0]["queue_id"] == "q-1" and lines[0]["event"] == "connecting"
    assert "hunter2" not in json.dumps(lines) and "abc" not in json.dumps(lines[0])
    assert lines[1]["level"] == "warning" and lines[1]["logger"] == "third.party"


def test_text_format_puts_the_traceback_on_lines_of_its_own() -> None:
    out = io.StringIO()
    configure_logging("INFO", "text", stream=out)
    try:
        raise RuntimeError("login refused for password=hunter2")
    except RuntimeError:
        structlog.get_logger("test").exception("job failed", symbol="BTCUSDT", records=12)
    first, *rest = out.getvalue().splitlines()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} ERROR   job failed  symbol=BTCUSDT records=12",
        first,
    ), first
    assert rest[0] == "    Traceback (most recent call last):"
    assert rest[-1] == "    RuntimeError: login refused for password=***"
    assert "hunter2" not in out.getvalue()


def test_auto_format_is_json_when_nobody_watches() -> None:
    out = io.StringIO()  # not a terminal
    configure_logging("INFO", "auto", stream=out)
    structlog.get_logger("test").info("hello")
    assert json.loads(out.getvalue())["event"] == "hello"


def test_library_chatter_stays_out_below_debug() -> None:
    out = io.StringIO()
    configure_logging("INFO", "json", stream=out)
    logging.getLogger("aiokafka.consumer.group_coordinator").info("Joined group")
    logging.getLogger("aiokafka.conn").warning("Heartbeat failed")
    assert [json.loads(line)["event"] for line in out.getvalue().splitlines()] == [
        "Heartbeat failed"
    ]


async def test_a_retry_says_what_is_retried_the_attempt_and_the_error() -> None:
    out = io.StringIO()
    configure_logging("INFO", "json", stream=out)
    failures = iter([ConnectionRefusedError(111, "Connection refused")])
    async for attempt in retrying(
        "connect to the exchange", on=OSError, attempts=3, wait_initial=0, wait_jitter=0
    ):
        with attempt:
            if error := next(failures, None):
                raise error
    (line,) = [json.loads(text) for text in out.getvalue().splitlines()]
    assert line["event"] == (
        "connect to the exchange: attempt 1 of 3 failed "
        "(ConnectionRefusedError: [Errno 111] Connection refused); retrying in 0.0 s"
    )
    assert (line["retrying"], line["attempt"], line["level"]) == (
        "connect to the exchange",
        1,
        "warning",
    )
    assert "<context block>" not in out.getvalue()


def test_a_token_is_redacted_however_its_key_is_percent_encoded() -> None:
    """uvicorn logs the raw query: `?tok%65n=` (and `%2574oken`, encoded twice) is the
    token's key all the same, so the value never reaches the log."""
    out = io.StringIO()
    configure_logging("INFO", "json", stream=out)
    access = logging.getLogger("uvicorn.access")
    for query in ("tok%65n=s3cret-1", "%2574oken=s3cret-2", "TOKEN=s3cret-3", "x=1&token=s3cret-4"):
        access.info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", f"/ws/topic?{query}", "1.1", 401
        )
    logging.getLogger("uvicorn.error").info(
        '%s - "WebSocket %s" 401', "c", "/ws/topic?tok%65n=s3cret-5"
    )
    text = out.getvalue()
    assert len(text.splitlines()) == 5 and "s3cret" not in text, text
