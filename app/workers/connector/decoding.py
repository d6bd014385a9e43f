"""Kafka records -> documents: JSON objects with a string `id`; anything else is skipped.

Numbers keep their exact digits (Decimal, not float): see `parse_record`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from app.errors import InvalidInput
from app.workers.connector.documents import Document, parse_record, to_document


@dataclass
class Decoded:
    documents: list[Document] = field(default_factory=list)
    skipped: int = 0
    newest_ms: int | None = None


def decode(values: Iterable[bytes | None]) -> Decoded:
    """Documents of the records that are JSON objects with an `id`, in order."""
    decoded = Decoded()
    for value in values:
        document = _document(value)
        if document is None:
            decoded.skipped += 1
            continue
        decoded.documents.append(document)
        decoded.newest_ms = _newer(decoded.newest_ms, loaded_time(document))
    return decoded


def _document(value: bytes | None) -> Document | None:
    try:
        record: Any = parse_record(value) if value is not None else None
        return to_document(record) if isinstance(record, dict) else None
    except (msgspec.DecodeError, InvalidInput):
        return None


def loaded_time(record: dict[str, Any]) -> int | None:
    """The record's market time: a candle's open time, else its event time (epoch ms)."""
    value = record.get("open_time", record.get("event_time"))
    return value if isinstance(value, int) else None


def _newer(current: int | None, candidate: int | None) -> int | None:
    if candidate is None:
        return current
    return candidate if current is None else max(current, candidate)


def iso_ms(epoch_ms: int) -> str:
    """ISO UTC with milliseconds, the form loaders report as last_loaded_timestamp."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
