"""One contract for the connector's document stores: SQLite, ArangoDB through the fake server
in every run, and a real ArangoDB too when ARANGO_URL is set."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from app.errors import InvalidInput
from app.workers.connector.decoding import decode
from app.workers.connector.documents import DocumentStore, document_key, to_document
from app.workers.connector.sqlite_documents import SqliteDocumentStore
from tests.fakes.arango_http import FakeArango
from tests.fixtures.arango import ARANGO_KINDS, arango_settings, fresh_database, server_url

pytestmark = pytest.mark.timeout(10)


@pytest.fixture(params=["sqlite", *ARANGO_KINDS])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, fake_arango: FakeArango
) -> AsyncIterator[DocumentStore]:
    if request.param == "sqlite":
        adapter: DocumentStore = SqliteDocumentStore(tmp_path / "docs.db")
        yield adapter
        await adapter.close()
        return
    from app.workers.connector.arango_documents import ArangoDocumentStore

    url = server_url(request.param, fake_arango)
    async with fresh_database(url) as database:
        adapter = ArangoDocumentStore(arango_settings(url, database))
        yield adapter
        await adapter.close()


def candle(open_time: int, close: str = "1.0") -> dict[str, Any]:
    return {
        "id": f"binance:BTCUSDT:candle:5m:{open_time}",
        "open_time": open_time,
        "close": close,
        "volume": "2.5",
    }


def docs(*records: dict[str, Any]) -> list[dict[str, Any]]:
    return [to_document(record) for record in records]


async def test_upsert_creates_the_collection_and_counts_new_documents(
    store: DocumentStore,
) -> None:
    assert await store.count("candles_a") == 0
    assert await store.upsert("candles_a", docs(candle(1), candle(2), candle(3))) == 3
    assert await store.count("candles_a") == 3


async def test_an_upsert_of_existing_keys_replaces_them_and_counts_none(
    store: DocumentStore,
) -> None:
    await store.upsert("candles_b", docs(candle(1), candle(2)))
    assert await store.upsert("candles_b", docs(candle(2, "9.5"), candle(3))) == 1
    stored = await store.get_many("candles_b", [document_key(candle(2)["id"])])
    assert [(d["close"], d["volume"]) for d in stored.values()] == [("9.5", "2.5")]
    assert await store.count("candles_b") == 3


async def test_a_key_repeated_in_one_batch_is_one_document_the_last(
    store: DocumentStore,
) -> None:
    assert await store.upsert("candles_c", docs(candle(7, "1"), candle(7, "2"))) == 1
    stored = await store.get_many("candles_c", [document_key(candle(7)["id"])])
    assert [d["close"] for d in stored.values()] == ["2"]


async def test_documents_round_trip_with_their_key(store: DocumentStore) -> None:
    record: dict[str, Any] = {
        "id": "binance:BTCUSDT:trade:agg:42",
        "price": "60000.10",
        "buyer_is_maker": None,
        "levels": [["1.0", "2.0"]],
        "trades": 5,
    }
    await store.upsert("trades_a", docs(record))
    stored = await store.get_many("trades_a", ["binance:BTCUSDT:trade:agg:42", "missing"])
    assert stored == {"binance:BTCUSDT:trade:agg:42": {**record, "_key": record["id"]}}


async def test_collections_are_separate(store: DocumentStore) -> None:
    await store.upsert("left", docs(candle(1)))
    await store.upsert("right", docs(candle(1), candle(2)))
    assert (await store.count("left"), await store.count("right")) == (1, 2)


@pytest.mark.parametrize("name", ['x"; DROP TABLE queues; --', "1abc", "", "a" * 65, "a b"])
async def test_an_invalid_collection_name_never_reaches_the_database(
    store: DocumentStore, name: str
) -> None:
    with pytest.raises(InvalidInput):
        await store.upsert(name, docs(candle(1)))


@pytest.mark.parametrize("record_id", ["a~b", "moex/SBER trade#1", "ключ", "x" * 300, "50%"])
async def test_a_record_of_any_id_is_stored_and_found_by_its_key(
    store: DocumentStore, record_id: str
) -> None:
    record = {"id": record_id, "price": "1.5"}
    assert await store.upsert("odd_ids", docs(record)) == 1
    assert await store.upsert("odd_ids", docs(record)) == 0
    stored = await store.get_many("odd_ids", [document_key(record_id)])
    assert [d["id"] for d in stored.values()] == [record_id]


def test_record_ids_become_valid_one_to_one_keys() -> None:
    assert document_key("binance:BTCUSDT:candle:5m:1") == "binance:BTCUSDT:candle:5m:1"
    assert document_key("moex/SBER trade#1") == "moex%2FSBER%20trade%231"
    assert document_key("50%") != document_key("50%25")
    with pytest.raises(InvalidInput):
        to_document({"price": "1"})


async def test_prices_and_quantities_come_back_exactly(store: DocumentStore) -> None:
    """Decimal strings are kept as they are; numbers in a record keep their digits (to 15
    significant ones on ArangoDB, which stores doubles, every one on SQLite)."""
    raw = (
        b'{"id": "binance:BTCUSDT:trade:7", "price": "43000.12345678", "quantity": "0.00000001",'
        b' "limit": 43000.12345678, "tick": 0.00000001, "trades": 12}'
    )
    (document,) = decode([raw]).documents
    assert await store.upsert("trades_x", [document]) == 1
    stored = (await store.get_many("trades_x", [document["_key"]]))[document["_key"]]
    assert (stored["price"], stored["quantity"]) == ("43000.12345678", "0.00000001")
    assert Decimal(str(stored["limit"])) == Decimal("43000.12345678")
    assert Decimal(str(stored["tick"])) == Decimal("0.00000001")
    assert stored["trades"] == 12 and isinstance(stored["trades"], int)


async def test_sqlite_keeps_every_digit_of_a_number(tmp_path: Path) -> None:
    store = SqliteDocumentStore(tmp_path / "docs.db")
    (document,) = decode([b'{"id": "a", "v": 0.12345678901234567890123}']).documents
    await store.upsert("exact", [document])
    stored = await store.get_many("exact", [document["_key"]])
    await store.close()
    assert stored[document["_key"]]["v"] == Decimal("0.12345678901234567890123")
