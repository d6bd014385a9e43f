"""Kafka records as WebSocket messages: JSON for programs, the seed's lines for people."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from operator import attrgetter
from typing import Any

import msgspec
import orjson

from app.control.hub import HubMessage
from app.errors import InvalidMessage
from app.models.gaps import Gap
from app.models.messages import RetryReport, Telemetry, decode_control
from app.models.status import Status
from app.models.weight import RestWeightReport

TELEMETRY_FIELDS = (
    "queue_id",
    "job",
    "status",
    "records_written",
    "last_loaded_timestamp",
    "error_message",
    "seq",
    "ts",
    "stats",
    "retry",
    "gaps_detected",
    "gaps_open",
    "records_backfilled",
    "gaps",
    "rest_weight",
)


class JobTelemetry(msgspec.Struct, gc=False):
    """`job.telemetry` as clients get it, encoded by msgspec straight from the decoded
    report: four times cheaper than a dict through orjson, the fan-out's largest cost per
    message after the decoding (see bench/fanout.py)."""

    event: str
    queue_id: str
    job: str
    status: Status
    records_written: int | None
    last_loaded_timestamp: str | None
    error_message: str | None
    seq: int
    ts: datetime | None
    stats: dict[str, Any] | None
    retry: RetryReport | None
    gaps_detected: int | None
    gaps_open: int | None
    records_backfilled: int | None
    gaps: list[Gap] | None
    rest_weight: RestWeightReport | None
    health: str


_telemetry_fields = attrgetter(*TELEMETRY_FIELDS)
_ENCODER = msgspec.json.Encoder()


def from_event(raw: bytes, max_bytes: int | None = None) -> HubMessage | None:
    """A queue-events record; `queue.updated` conflates per queue, lifecycle events never."""
    if max_bytes is not None and len(raw) > max_bytes:
        return None
    event = _load(raw)
    if event is not None and str(event.get("event", "")).startswith("schedule."):
        return _schedule_event(raw, event)
    if event is not None and event.get("event") == "coverage.updated":
        return _coverage_event(raw, event)
    if event is None or not isinstance(event.get("queue_id"), str):
        return None
    queue_id, status = event["queue_id"], event.get("status")
    records = (event.get("data") or {}).get("records_written", 0)
    key = f"queue:{queue_id}" if event.get("event") == "queue.updated" else None
    text = f"📡 Queue {queue_id} → {status} ({records or 0} records)"
    return HubMessage(queue_id, raw.decode(), text, key)


def _schedule_event(raw: bytes, event: dict[str, Any]) -> HubMessage | None:
    """`schedule.triggered|skipped|failed`: for clients that follow everything (a client
    following chosen queues did not ask for them; the queue a run makes is new)."""
    schedule_id = event.get("schedule_id")
    if not isinstance(schedule_id, str):
        return None
    name, outcome = event.get("schedule"), event.get("outcome")
    if event.get("queue_id"):
        text = f"⏰ Schedule {name} → {outcome}: queue {event['queue_id']}"
    else:
        text = f"⏭ Schedule {name} → {outcome}: {event.get('reason')}"
    return HubMessage(f"schedule:{schedule_id}", raw.decode(), text)


def _coverage_event(raw: bytes, event: dict[str, Any]) -> HubMessage | None:
    """`coverage.updated`: for clients that follow everything or the reporting queue."""
    queue_id, series = event.get("queue_id"), event.get("series")
    if not isinstance(queue_id, str) or not isinstance(series, list):
        return None
    named = ", ".join(
        f"{s.get('symbol')} {s.get('type')} {s.get('first_day')}..{s.get('last_day')}"
        for s in series[:5]
        if isinstance(s, dict)
    )
    return HubMessage(queue_id, raw.decode(), f"🗺 Coverage updated by queue {queue_id}: {named}")


def from_control(raw: bytes, max_bytes: int | None = None) -> tuple[HubMessage, str, int] | None:
    """A telemetry record of queue-control as `job.telemetry`, with its (job, seq). Only
    telemetry the dispatcher would accept is shown (same decoder, same size limit):
    commands and records it sets aside are not."""
    try:
        report = decode_control(raw, max_bytes)
    except InvalidMessage:
        return None
    if not isinstance(report, Telemetry):
        return None
    health = "retrying" if report.retry else "ok"
    fields: tuple[Any, ...] = _telemetry_fields(report)
    shown = JobTelemetry("job.telemetry", *fields, health)  # type: ignore[call-arg]
    try:
        body = _ENCODER.encode(shown).decode()
    except (msgspec.EncodeError, OverflowError, TypeError):
        return None
    job = f"{report.queue_id}/{report.job}"
    return (
        HubMessage(report.queue_id, body, partial(_line, report), f"telemetry:{job}"),
        job,
        report.seq,
    )


def _line(report: Telemetry) -> str:
    return (
        f"📊 Queue {report.queue_id} · {report.job} → {report.status} "
        f"({report.records_written or 0} records)" + _gaps_text(report) + _retry_text(report.retry)
    )


def _gaps_text(report: Telemetry) -> str:
    if not report.gaps_detected:
        return ""
    return (
        f" · {report.gaps_detected} gaps, {report.gaps_open or 0} open, "
        f"{report.records_backfilled or 0} records backfilled"
    )


def _retry_text(retry: RetryReport | None) -> str:
    if retry is None:
        return ""
    bound = f"/{retry.max_attempts}" if retry.max_attempts else ""
    return f" ⚠ retrying {retry.attempt}{bound}: {retry.last_error[:200]}"


def heartbeat(ts: str) -> HubMessage:
    return HubMessage(
        None, orjson.dumps({"event": "heartbeat", "ts": ts}).decode(), "💓 heartbeat", "heartbeat"
    )


def _load(raw: bytes) -> dict[str, Any] | None:
    try:
        loaded = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return loaded if isinstance(loaded, dict) else None
