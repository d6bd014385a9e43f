"""queue-control records as the dispatcher reads them (msgspec for telemetry, pydantic for
commands): what is accepted, and the reason given for what is not."""

from datetime import UTC, datetime

import orjson
import pytest

from app.bus.kafka import encode_json
from app.errors import InvalidMessage
from app.models.messages import (
    StartCommand,
    StopCommand,
    Telemetry,
    decode_control,
    decode_telemetry,
)
from app.models.status import Status

REPORT = {
    "type": "telemetry",
    "queue_id": "q1",
    "job": "loader-q1",
    "status": "loading",
    "records_written": 5,
    "seq": 3,
    "ts": "2024-06-01T00:00:00+00:00",
    "stats": {"connections": 2},
}


def test_telemetry_is_decoded_with_its_types() -> None:
    report = decode_control(orjson.dumps(REPORT))
    assert isinstance(report, Telemetry)
    assert report.status is Status.LOADING
    assert report.ts == datetime(2024, 6, 1, tzinfo=UTC)
    assert (report.seq, report.records_written, report.stats) == (3, 5, {"connections": 2})


def test_unknown_fields_are_ignored_and_numbers_in_strings_accepted_as_before() -> None:
    report = decode_telemetry(orjson.dumps({**REPORT, "seq": "7", "host": "node-1"}))
    assert report.seq == 7


def test_what_a_job_sends_is_what_the_dispatcher_reads() -> None:
    sent = Telemetry(
        queue_id="q1",
        job="j",
        status=Status.FINISHED,
        seq=9,
        finished_at=datetime(2024, 6, 1, 12, tzinfo=UTC),
    )
    assert orjson.loads(encode_json(sent))["type"] == "telemetry"
    assert decode_control(encode_json(sent)) == sent


@pytest.mark.parametrize(
    ("raw", "reason", "names"),
    [
        (b"not json", "not_json", "malformed"),
        (b"[1, 2]", "invalid", "array"),
        (orjson.dumps({**REPORT, "seq": -1}), "invalid", "$.seq"),
        (orjson.dumps({**REPORT, "status": "dancing"}), "invalid", "$.status"),
        (orjson.dumps({**REPORT, "queue_id": ""}), "invalid", "$.queue_id"),
        (orjson.dumps({k: v for k, v in REPORT.items() if k != "type"}), "invalid", "type"),
        (orjson.dumps({**REPORT, "type": "gossip"}), "invalid", "gossip"),
        (orjson.dumps({**REPORT, "stats": [1]}), "invalid", "$.stats"),
        (
            b'{"type":"telemetry","queue_id":"q1","job":"j","status":"loading","seq":1'
            + b"0" * 30
            + b"}",
            "invalid",
            "$.seq",
        ),
        (orjson.dumps({**REPORT, "seq": 2**63}), "invalid", "$.seq"),
        (orjson.dumps({**REPORT, "records_written": 2**63}), "invalid", "$.records_written"),
    ],
)
def test_a_bad_record_is_refused_with_a_reason_and_what_is_wrong(
    raw: bytes, reason: str, names: str
) -> None:
    with pytest.raises(InvalidMessage) as refused:
        decode_control(raw)
    assert refused.value.reason == reason
    assert names in refused.value.message


def test_commands_keep_the_rest_api_validation() -> None:
    start = decode_control(
        orjson.dumps(
            {
                "type": "command",
                "command": "start",
                "command_id": "c1",
                "payload": {
                    "symbol": "BTCUSDT",
                    "type": "api",
                    "time_range": "2024-01-01:2024-01-02",
                },
            }
        )
    )
    assert isinstance(start, StartCommand) and start.payload.symbol == "BTCUSDT"
    stop = decode_control(
        b'{"type": "command", "command": "stop", "command_id": "c2", "queue_id": "q1"}'
    )
    assert isinstance(stop, StopCommand)
    with pytest.raises(InvalidMessage) as refused:
        decode_control(
            b'{"type": "command", "command": "start", "command_id": "c3", '
            b'"payload": {"symbol": "BTCUSDT"}}'
        )
    assert refused.value.reason == "invalid"


def test_a_bad_command_says_which_field_is_wrong() -> None:
    with pytest.raises(InvalidMessage) as refused:
        decode_control(
            b'{"type": "command", "command": "start", "command_id": "c4", '
            b'"payload": {"symbol": "BTCUSDT", "type": "api"}}'
        )
    assert "payload.time_range" in refused.value.message
