"""ArangoDB document store (python-arango), used when ARANGO_URL is set.

A missing collection is created on first use (listed first: creating needs the Administrate
right on the database, writing only Read/Write on the collection; a concurrent creator is
fine). Each batch is
one `insert_many(overwrite_mode="replace")`: a document whose `_key` exists is replaced,
and ArangoDB answers `_oldRev` for those (python-arango hands it on as `_old_rev`), which
is how new documents are counted. The client is synchronous: calls run in one worker
thread, one attempt each; every failure becomes ours (app/store/arango_client.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from arango.collection import StandardCollection
from arango.database import StandardDatabase
from arango.exceptions import ArangoError, ArangoServerError

from app.config import StoreSettings
from app.errors import StoreUnavailable
from app.store.arango_client import arango_client, arango_errors, database, ensure_collections
from app.workers.connector.documents import (
    Document,
    document_json,
    unique_by_key,
    valid_collection,
)

T = TypeVar("T")
COLLECTION_NOT_FOUND = 1203


class ArangoDocumentStore:
    def __init__(self, settings: StoreSettings, timeout_seconds: float = 30.0) -> None:
        self._settings = settings
        self._client = arango_client(
            settings.arango_url or "", timeout_seconds, serializer=_document_text
        )
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="arango-documents")
        self._db: StandardDatabase | None = None
        self._ready: set[str] = set()

    async def upsert(self, collection: str, documents: Sequence[Document]) -> int:
        name = valid_collection(collection)
        unique = unique_by_key(documents)
        return await self._call(f"write to {name}", lambda: _insert(self._collection(name), unique))

    async def count(self, collection: str) -> int:
        name = valid_collection(collection)
        return await self._call(f"count {name}", lambda: self._count(name))

    async def get_many(self, collection: str, keys: Sequence[str]) -> dict[str, Document]:
        name = valid_collection(collection)
        return await self._call(f"read from {name}", lambda: self._get_many(name, list(keys)))

    async def close(self) -> None:
        await asyncio.to_thread(self._thread.shutdown, True)
        self._client.close()

    async def _call(self, action: str, work: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, _guarded, action, work)

    def _database(self) -> StandardDatabase:
        if self._db is None:
            self._db = database(self._client, self._settings)
        return self._db

    def _collection(self, name: str) -> StandardCollection:
        db = self._database()
        if name not in self._ready:
            ensure_collections(db, [name])
            self._ready.add(name)
        return db.collection(name)

    def _count(self, name: str) -> int:
        """0 while the collection does not exist yet (one call, no listing first)."""
        try:
            count: Any = self._database().collection(name).count()
        except ArangoServerError as error:
            if error.error_code == COLLECTION_NOT_FOUND:
                return 0
            raise
        return int(count)

    def _get_many(self, name: str, keys: list[str]) -> dict[str, Document]:
        try:
            found: Any = self._database().collection(name).get_many(keys)
        except ArangoServerError as error:
            if error.error_code == COLLECTION_NOT_FOUND:
                return {}
            raise
        return {d["_key"]: {k: v for k, v in d.items() if k not in ("_id", "_rev")} for d in found}


def _document_text(body: Any) -> str:
    """python-arango's request bodies, Decimals included, as ArangoDB reads them (as
    doubles: exact to 15 significant digits, which is why prices travel as strings)."""
    return document_json(body).decode()


def _guarded(action: str, work: Callable[[], T]) -> T:
    with arango_errors(action):
        return work()


def _insert(collection: StandardCollection, documents: list[Document]) -> int:
    """Replace-or-insert the batch; any per-document error fails the batch (it is retried)."""
    results: Any = collection.insert_many(documents, overwrite_mode="replace")
    failures = [r for r in results if isinstance(r, ArangoError)]
    if failures:
        raise StoreUnavailable(f"ArangoDB refused {len(failures)} documents: {failures[0]}")
    return sum(1 for r in results if "_old_rev" not in r)
