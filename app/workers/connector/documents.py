"""The document-store port of the connector, and the rules every adapter shares.

A record's deterministic `id` becomes the document key (ArangoDB `_key`), so writing a
redelivered record replaces the same document: upserts are idempotent.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import quote

import msgspec

from app.errors import InvalidInput
from app.store.keys import KEY_PUNCTUATION, MAX_KEY_BYTES

COLLECTION_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")
KEY_SAFE = KEY_PUNCTUATION.replace("%", "")
"""Kept as they are; `%` is left out so it escapes, which keeps the encoding one-to-one."""
HASHED_PREFIX = 185
Document = dict[str, Any]
_DECODER = msgspec.json.Decoder(float_hook=Decimal)
_ENCODER = msgspec.json.Encoder(decimal_format="number")


def parse_record(raw: bytes) -> Any:
    """A Kafka record's JSON with every non-integer number as a Decimal of its exact
    digits: a value never passes through a binary float on its way to the store."""
    return _DECODER.decode(raw)


def document_json(document: Any) -> bytes:
    """A document as JSON; Decimals written back as the numbers they were (`0.1` stays
    `0.1`, `0.00000001` becomes `1E-8`, the same value)."""
    return _ENCODER.encode(document)


class DocumentStore(Protocol):
    """Upserts documents by `_key` into named collections."""

    async def upsert(self, collection: str, documents: Sequence[Document]) -> int:
        """Write every document (replacing same keys) at once; return how many were new."""

    async def get_many(self, collection: str, keys: Sequence[str]) -> dict[str, Document]:
        """The stored documents of these keys (missing keys are left out)."""

    async def count(self, collection: str) -> int:
        """How many documents the collection holds (0 when it does not exist yet)."""

    async def close(self) -> None: ...


def valid_collection(name: str) -> str:
    """The name itself, or InvalidInput: it reaches SQL and AQL only after this check."""
    if not COLLECTION_PATTERN.fullmatch(name):
        raise InvalidInput(
            f"invalid collection name {name!r}: a letter, then letters, "
            "digits, _ or -, at most 64 characters"
        )
    return name


def document_key(record_id: str) -> str:
    """The record id as a legal ArangoDB `_key` (app/store/keys.py), one-to-one.

    Characters outside the key alphabet are percent-encoded from UTF-8 (`quote` keeps `~`,
    which keys forbid, so it is encoded too; lone surrogates pass through as bytes). An id
    that is empty or encodes longer than 254 bytes becomes its encoded prefix plus `%-` and
    its SHA-256: `%-` never appears in an encoded id, so no two ids share a key.
    """
    raw = record_id.encode("utf-8", "surrogatepass")
    key = quote(raw, safe=KEY_SAFE).replace("~", "%7E")
    if not key or len(key) > MAX_KEY_BYTES:
        key = f"{key[:HASHED_PREFIX]}%-{hashlib.sha256(raw).hexdigest()}"
    return key


def to_document(record: dict[str, Any]) -> Document:
    """The record plus its `_key`; a record without a string `id` is refused."""
    record_id = record.get("id")
    if not isinstance(record_id, str):
        raise InvalidInput("record has no string `id`")
    return {**record, "_key": document_key(record_id)}


def unique_by_key(documents: Sequence[Document]) -> list[Document]:
    """The last document of each key, in first-seen order (one batch may repeat a key)."""
    latest = {document["_key"]: document for document in documents}
    return list(latest.values())
