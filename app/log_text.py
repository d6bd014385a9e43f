"""Log records as a person reads them: time, level, message and key fields on one line,
a traceback on lines of its own.

Used by the console (LOG_FORMAT=text) and by `GET /queues/{id}/logs?format=text`, which
reads a job's JSON lines back and leaves routine lines (`routine: true`, the periodic
telemetry) out unless asked for them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from app.redaction import redact, redact_text

# Said by the line's head, or the same for every line of one job's log.
_NOT_FIELDS = frozenset(
    {"timestamp", "level", "event", "logger", "exception", "routine", "queue_id", "job"}
)


def human_lines(record: Mapping[str, Any]) -> list[str]:
    """`2026-12-02 07:09:36.895 WARNING message  key=value` plus traceback lines."""
    message = str(record.get("event", ""))
    level = str(record.get("level", "")).upper()
    head = " ".join(
        part for part in (_time(record.get("timestamp")), f"{level:<7}", message) if part
    )
    fields = _fields(record, message)
    return [f"{head}  {fields}" if fields else head, *_traceback(record.get("exception"))]


@dataclass
class ReadableLog:
    """A job's log tail in words; `omitted` counts the routine records left out."""

    lines: list[str] = field(default_factory=list)
    omitted: int = 0


def readable(raw: Iterable[str], *, routine: bool = False, tail: int | None = None) -> ReadableLog:
    """JSON log lines (others pass through) as text; the last `tail` records are kept."""
    records: list[list[str]] = []
    log = ReadableLog()
    for line in raw:
        record = _record(line)
        if record is None:
            records.append([redact_text(line)])
        elif record.get("routine") is True and not routine:
            log.omitted += 1
        else:
            records.append(human_lines(redact(None, "", record)))
    kept = records[-tail:] if tail else records
    log.lines = [line for lines in kept for line in lines]
    return log


def _record(line: str) -> dict[str, Any] | None:
    if not line.startswith("{"):
        return None
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) and "event" in value else None


def _time(value: Any) -> str:
    """ISO `2026-12-02T07:09:36.895935Z` -> `2026-12-02 07:09:36.895` (UTC)."""
    if not isinstance(value, str):
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _fields(record: Mapping[str, Any], message: str) -> str:
    """`key=value` for what the message does not already say."""
    shown = []
    for key, value in record.items():
        if key in _NOT_FIELDS or value is None:
            continue
        text = _value(value)
        if not _said_in(str(value), message):
            shown.append(f"{key}={text}")
    return " ".join(shown)


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value if value and not re.search(r"\s|=", value) else orjson.dumps(value).decode()
    if isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return orjson.dumps(value, default=str).decode()


def _said_in(text: str, message: str) -> bool:
    return bool(text) and re.search(rf"(?<![\w.]){re.escape(text)}(?![\w.])", message) is not None


def _traceback(exception: Any) -> list[str]:
    """A traceback as text (format_exc_info) or as dicts (structlog's dict_tracebacks)."""
    if isinstance(exception, str):
        return ["    " + line for line in exception.rstrip().splitlines()]
    if isinstance(exception, list):
        return [line for part in exception if isinstance(part, dict) for line in _frames(part)]
    return []


def _frames(part: Mapping[str, Any]) -> list[str]:
    lines = ["    Traceback (most recent call last):"]
    for frame in part.get("frames") or []:
        if isinstance(frame, dict):
            where = f'{frame.get("filename")}", line {frame.get("lineno")}, in {frame.get("name")}'
            lines.append(f'      File "{where}')
    lines.append(f"    {part.get('exc_type', 'Exception')}: {part.get('exc_value', '')}")
    return lines
