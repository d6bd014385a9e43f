"""Kafka records as WebSocket messages: JSON for programs, the seed's lines for people."""

from __future__ import annotations

from typing import Any

import orjson

from app.control.hub import HubMessage

TELEMETRY_FIELDS = ("queue_id", "job", "status", "records_written", "last_loaded_timestamp",
                    "error_message", "seq", "ts", "stats")


def from_event(raw: bytes) -> HubMessage | None:
    """A queue-events record; `queue.updated` conflates per queue, lifecycle events never."""
    event = _load(raw)
    if event is None or not isinstance(event.get("queue_id"), str):
        return None
    queue_id, status = event["queue_id"], event.get("status")
    records = (event.get("data") or {}).get("records_written", 0)
    key = f"queue:{queue_id}" if event.get("event") == "queue.updated" else None
    text = f"📡 Queue {queue_id} → {status} ({records or 0} records)"
    return HubMessage(queue_id, raw.decode(), text, key)


def from_control(raw: bytes) -> tuple[HubMessage, str, int] | None:
    """A telemetry record of queue-control as `job.telemetry`, with its (job, seq)."""
    message = _load(raw)
    if message is None or message.get("type") != "telemetry":
        return None
    if not isinstance(message.get("queue_id"), str) or not isinstance(message.get("seq"), int):
        return None
    payload = {"event": "job.telemetry", **{k: message.get(k) for k in TELEMETRY_FIELDS}}
    queue_id, job = message["queue_id"], str(message.get("job"))
    text = (f"📊 Queue {queue_id} · {job} → {message.get('status')} "
            f"({message.get('records_written') or 0} records)")
    hub_message = HubMessage(queue_id, orjson.dumps(payload).decode(), text,
                             f"telemetry:{queue_id}:{job}")
    return hub_message, f"{queue_id}/{job}", message["seq"]


def heartbeat(ts: str) -> HubMessage:
    return HubMessage(None, orjson.dumps({"event": "heartbeat", "ts": ts}).decode(),
                      "💓 heartbeat", "heartbeat")


def _load(raw: bytes) -> dict[str, Any] | None:
    try:
        loaded = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return loaded if isinstance(loaded, dict) else None
