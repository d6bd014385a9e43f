"""ArangoDB document store (python-arango), used when ARANGO_URL is set.

A missing collection is created on first use (a concurrent creator is fine). Each batch is
one `insert_many(overwrite_mode="replace")`: a document whose `_key` exists is replaced,
and ArangoDB answers `_oldRev` for those, which is how new documents are counted. The
client is synchronous: calls run in one worker thread. Every ArangoError becomes ours.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from arango.client import ArangoClient
from arango.collection import StandardCollection
from arango.database import StandardDatabase
from arango.exceptions import ArangoError, CollectionCreateError

from app.config import Settings
from app.errors import StoreUnavailable
from app.workers.connector.documents import Document, unique_by_key, valid_collection

T = TypeVar("T")
DUPLICATE_NAME = 1207


class ArangoDocumentStore:
    def __init__(self, settings: Settings, timeout_seconds: float = 30.0) -> None:
        self._settings = settings
        self._client = ArangoClient(
            hosts=settings.arango_url or "", request_timeout=timeout_seconds
        )
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="arango-documents")
        self._db: StandardDatabase | None = None
        self._ready: set[str] = set()

    async def upsert(self, collection: str, documents: Sequence[Document]) -> int:
        name = valid_collection(collection)
        unique = unique_by_key(documents)
        return await self._call(lambda: _insert(self._collection(name), unique))

    async def count(self, collection: str) -> int:
        name = valid_collection(collection)
        return await self._call(lambda: self._count(name))

    async def get_many(self, collection: str, keys: Sequence[str]) -> dict[str, Document]:
        name = valid_collection(collection)
        return await self._call(lambda: self._get_many(name, list(keys)))

    async def close(self) -> None:
        await asyncio.to_thread(self._thread.shutdown, True)
        self._client.close()

    async def _call(self, work: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._thread, work)
        except ArangoError as error:
            raise StoreUnavailable(f"ArangoDB documents: {error}") from error

    def _database(self) -> StandardDatabase:
        if self._db is None:
            password = self._settings.arango_password.get_secret_value()
            self._db = self._client.db(
                self._settings.arango_db, username=self._settings.arango_user, password=password
            )
        return self._db

    def _collection(self, name: str) -> StandardCollection:
        db = self._database()
        if name not in self._ready:
            _create_missing(db, name)
            self._ready.add(name)
        return db.collection(name)

    def _count(self, name: str) -> int:
        db = self._database()
        if not db.has_collection(name):
            return 0
        count: Any = db.collection(name).count()
        return int(count)

    def _get_many(self, name: str, keys: list[str]) -> dict[str, Document]:
        db = self._database()
        if not db.has_collection(name):
            return {}
        found: Any = db.collection(name).get_many(keys)
        return {d["_key"]: {k: v for k, v in d.items() if k not in ("_id", "_rev")} for d in found}


def _create_missing(db: StandardDatabase, name: str) -> None:
    if db.has_collection(name):
        return
    try:
        db.create_collection(name)
    except CollectionCreateError as error:
        if error.error_code != DUPLICATE_NAME:
            raise


def _insert(collection: StandardCollection, documents: list[Document]) -> int:
    """Replace-or-insert the batch; any per-document error fails the batch (it is retried)."""
    results: Any = collection.insert_many(documents, overwrite_mode="replace")
    failures = [r for r in results if isinstance(r, ArangoError)]
    if failures:
        raise StoreUnavailable(f"ArangoDB refused {len(failures)} documents: {failures[0]}")
    return sum(1 for r in results if "_oldRev" not in r)
