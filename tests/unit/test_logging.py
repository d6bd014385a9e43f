"""Logs are JSON lines; secrets never appear in them."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from app.logging import configure_logging


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
    assert lines[1]["level"] == "warning"
