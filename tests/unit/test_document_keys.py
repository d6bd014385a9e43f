"""Every possible record id becomes a legal ArangoDB key, and no two ids share one."""

from __future__ import annotations

import random

import pytest

from app.store.keys import is_legal_key
from app.workers.connector.documents import document_key

EDGES = [
    "",
    "~",
    "a~b",
    "%",
    "%7E",
    "%25",
    "50%",
    "moex/SBER trade#1",
    "ключ",
    "\ud800",
    "\x00",
    "x" * 254,
    "x" * 255,
    "~" * 100,
    "é" * 200,
    "binance:BTCUSDT:candle:5m:1717200000000",
]


def random_ids(count: int, seed: int = 13) -> list[str]:
    """Ids from the whole code-point range (surrogates included), of every length."""
    rng = random.Random(seed)
    alphabet = [chr(c) for c in range(32, 127)] + ["~", "%", "/", " ", "é", "€", "\ud83d"]

    def pick() -> str:
        return rng.choice(alphabet) if rng.random() < 0.8 else chr(rng.randrange(0x10FFFF))

    lengths = [rng.choice([1, 2, 5, 20, 100, 260, 600]) for _ in range(count)]
    return ["".join(pick() for _ in range(length)) for length in lengths]


@pytest.mark.parametrize("record_id", EDGES)
def test_edge_ids_become_legal_keys(record_id: str) -> None:
    assert is_legal_key(document_key(record_id)), document_key(record_id)


def test_every_id_becomes_a_legal_key_and_keys_are_one_to_one() -> None:
    ids = set(random_ids(5000)) | set(EDGES)
    keys = {document_key(record_id) for record_id in ids}
    assert all(is_legal_key(key) for key in keys)
    assert len(keys) == len(ids)


def test_ids_made_of_key_characters_stay_as_they_are() -> None:
    assert document_key("binance:BTCUSDT:candle:5m:1") == "binance:BTCUSDT:candle:5m:1"
    assert document_key("a~b") == "a%7Eb"
