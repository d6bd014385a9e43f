"""MESSAGE bodies: `[value, decimals]` numbers and snapshot/updates/removal row tables.

Bodies are parsed with the standard `json` module and `parse_float=Decimal`, so `306.13`
never passes through a binary float: fixed-point values stay exact decimal strings.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from app.workers.moex.errors import MoexProtocolError

Row = dict[str, Any]
RowKey = tuple[Any, ...]
MessageType = Literal["snapshot", "updates", "removal"]

KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "candles": ("FROM",),
    "orderbooks": ("BUYSELL", "PRICE"),
    "securities": ("TICKER",),
}


@dataclass(frozen=True)
class Message:
    """One MESSAGE body: its type, sequence number, server time (ms) and rows."""

    type: MessageType
    seqnum: int
    timestamp_ms: int | None
    rows: list[Row]


def fixed(value: Any) -> str | None:
    """`[306.13, 2]` -> "306.13", `[5, 1]` -> "5.0", plain integers as-is, null -> None."""
    if value is None:
        return None
    if isinstance(value, list) and len(value) == 2:
        number, decimals = value
        if number is None:
            return None
        exact = Decimal(number).quantize(Decimal(1).scaleb(-int(decimals)))
        return format(exact, "f")  # never "1E-8"
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise MoexProtocolError(f"not a MOEX number: {value!r}")
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def parse_message(body: bytes) -> Message:
    """Parse a MESSAGE body into rows keyed by column name."""
    try:
        document = json.loads(body, parse_float=Decimal)
        properties = document["properties"]
        columns: list[str] = document["columns"]
        rows = [dict(zip(columns, values, strict=True)) for values in document["data"]]
    except (ValueError, KeyError, TypeError) as error:
        raise MoexProtocolError(f"malformed MESSAGE body: {error}") from error
    if properties.get("type") not in ("snapshot", "updates", "removal"):
        raise MoexProtocolError(f"unknown MESSAGE type {properties.get('type')!r}")
    return Message(
        properties["type"],
        int(properties.get("seqnum") or 0),
        _epoch_ms(properties.get("timestamp")),
        rows,
    )


def _epoch_ms(value: Any) -> int | None:
    """MOEX does not say whether EPOCH is seconds or milliseconds: judge by magnitude."""
    if value is None:
        return None
    number = int(value)
    return number * 1000 if number < 100_000_000_000 else number


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


@dataclass
class Table:
    """The rows of one subscription, kept by primary key, as the server's messages say."""

    key_columns: Sequence[str]
    rows: dict[RowKey, Row] = field(default_factory=dict)

    def key(self, row: Row) -> RowKey:
        try:
            return tuple(_hashable(row[column]) for column in self.key_columns)
        except KeyError as error:
            raise MoexProtocolError(f"row without key column {error}") from error

    def apply(self, message: Message) -> list[Row]:
        """Apply a message; return the rows it touched (merged rows; removed ones for removal)."""
        if message.type == "snapshot":
            self.rows = {self.key(row): row for row in message.rows}
            return list(self.rows.values())
        if message.type == "removal":
            return [self.rows.pop(self.key(row), row) for row in message.rows]
        return [self._upsert(row) for row in message.rows]

    def _upsert(self, row: Row) -> Row:
        merged = {**self.rows.get(self.key(row), {}), **row}
        self.rows[self.key(row)] = merged
        return merged
