"""TIME_RANGE and RESUME_FROM: the epoch-millisecond window a history job loads."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta

from app.errors import InvalidInput
from app.models.queues import parse_time_range as queue_time_range


def parse_time_range(text: str) -> tuple[int, int]:
    """`YYYY-MM-DD:YYYY-MM-DD` -> [start, end] in ms, UTC, end day inclusive (the API's
    rules, app/models/queues.py)."""
    try:
        first, last = queue_time_range(text)
    except ValueError as error:
        raise InvalidInput(f"TIME_RANGE {text!r}: {error}") from error
    return day_ms(first), day_ms(last + timedelta(days=1)) - 1


def day_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def parse_instant(text: str) -> int:
    """Epoch ms from `1717200000000` or an ISO time (naive means UTC)."""
    if text.strip().lstrip("-").isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as error:
        raise InvalidInput(f"RESUME_FROM is neither epoch ms nor ISO time: {text!r}") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def resume_point() -> int | None:
    """The last loaded timestamp the launcher passes on a restart, if any."""
    raw = os.environ.get("RESUME_FROM", "").strip()
    return parse_instant(raw) if raw else None


def iso_ms(epoch_ms: int) -> str:
    """The form we report as last_loaded_timestamp: ISO UTC with milliseconds."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
