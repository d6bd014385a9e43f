"""One contract for the connector's document stores: SQLite always, ArangoDB with ARANGO_URL."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from app.errors import InvalidInput
from app.workers.connector.documents import DocumentStore, document_key, to_document
from app.workers.connector.sqlite_documents import SqliteDocumentStore

pytestmark = pytest.mark.timeout(10)
ADAPTERS = [
    "sqlite",
    pytest.param(
        "arango",
        marks=pytest.mark.skipif(
            not os.environ.get("ARANGO_URL"), reason="ARANGO_URL not set: no ArangoDB here"
        ),
    ),
]


@pytest.fixture(params=ADAPTERS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DocumentStore]:
    if request.param == "sqlite":
        adapter: DocumentStore = SqliteDocumentStore(tmp_path / "docs.db")
        yield adapter
        await adapter.close()
        return
    from app.workers.connector.arango_documents import ArangoDocumentStore

    async with arango_database() as database:
        adapter = ArangoDocumentStore(Settings(_env_file=None, arango_db=database))
        yield adapter
        await adapter.close()


@asynccontextmanager
async def arango_database() -> AsyncIterator[str]:
    """A fresh database on the ArangoDB of ARANGO_URL, dropped afterwards."""
    from arango.client import ArangoClient

    settings = Settings(_env_file=None)
    client = ArangoClient(hosts=settings.arango_url or "")
    system = client.db(
        "_system",
        username=settings.arango_user,
        password=settings.arango_password.get_secret_value(),
    )
    name = f"docs_{uuid.uuid4().hex[:10]}"
    await asyncio.to_thread(system.create_database, name)
    try:
        yield name
    finally:
        await asyncio.to_thread(system.delete_database, name)
        client.close()


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


def test_record_ids_become_valid_one_to_one_keys() -> None:
    assert document_key("binance:BTCUSDT:candle:5m:1") == "binance:BTCUSDT:candle:5m:1"
    assert document_key("moex/SBER trade#1") == "moex%2FSBER%20trade%231"
    assert document_key("50%") != document_key("50%25")
    with pytest.raises(InvalidInput):
        to_document({"price": "1"})
