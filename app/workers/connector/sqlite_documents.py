"""SQLite document tables: the embedded-mode document store, in the service's SQLite file.

One table per collection, `documents_<collection>(key TEXT PRIMARY KEY, doc BLOB)`; each
batch is one `BEGIN IMMEDIATE` transaction of INSERT OR REPLACE, so a batch lands whole or
not at all. WAL and a busy timeout let it share the file with the service's queue store.
All SQLite work runs in one worker thread that owns the connection.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import orjson

from app.errors import StoreUnavailable
from app.store.sqlite import connect
from app.workers.connector.documents import (
    Document,
    document_json,
    parse_record,
    unique_by_key,
    valid_collection,
)

T = TypeVar("T")
BUSY_TIMEOUT_MS = 10_000


def table_of(collection: str) -> str:
    """The quoted table name; the collection name is validated before it is spliced in."""
    return f'"documents_{valid_collection(collection)}"'


class SqliteDocumentStore:
    def __init__(self, path: Path, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-documents")
        self._db: sqlite3.Connection | None = None
        self._tables: set[str] = set()

    async def upsert(self, collection: str, documents: Sequence[Document]) -> int:
        table = table_of(collection)
        unique = unique_by_key(documents)
        return await self._run(lambda db: self._upsert(db, table, unique))

    async def count(self, collection: str) -> int:
        table = table_of(collection)
        return await self._run(lambda db: _count(db, table))

    async def get_many(self, collection: str, keys: Sequence[str]) -> dict[str, Document]:
        table = table_of(collection)
        return await self._run(lambda db: _get_many(db, table, list(keys)))

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._close)
        await asyncio.to_thread(self._thread.shutdown, True)

    def _close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            db.close()

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._guarded, work)

    def _guarded(self, work: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return work(self._connection())
        except sqlite3.Error as error:
            raise StoreUnavailable(f"SQLite documents {self.path}: {error}") from error

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = connect(self.path, self.busy_timeout_ms)
        return self._db

    def _upsert(self, db: sqlite3.Connection, table: str, documents: list[Document]) -> int:
        if table not in self._tables:
            db.execute(f"CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, doc BLOB)")
            self._tables.add(table)
        db.execute("BEGIN IMMEDIATE")
        try:
            new = _write(db, table, documents)
        except BaseException:
            db.rollback()
            raise
        db.commit()
        return new


def _write(db: sqlite3.Connection, table: str, documents: list[Document]) -> int:
    """Insert or replace every document; return how many keys were not there before."""
    keys = [document["_key"] for document in documents]
    existing = db.execute(
        f"SELECT COUNT(*) FROM {table} WHERE key IN (SELECT value FROM json_each(?))",
        (orjson.dumps(keys).decode(),),
    ).fetchone()[0]
    db.executemany(
        f"INSERT OR REPLACE INTO {table} (key, doc) VALUES (?, ?)",
        [(d["_key"], document_json(d)) for d in documents],
    )
    return len(keys) - int(existing)


def _count(db: sqlite3.Connection, table: str) -> int:
    try:
        return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            return 0
        raise


def _get_many(db: sqlite3.Connection, table: str, keys: list[str]) -> dict[str, Document]:
    query = f"SELECT key, doc FROM {table} WHERE key IN (SELECT value FROM json_each(?))"
    try:
        rows = db.execute(query, (orjson.dumps(keys).decode(),)).fetchall()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            return {}
        raise
    return {key: parse_record(doc) for key, doc in rows}
