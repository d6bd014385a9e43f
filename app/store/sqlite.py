"""SQLite adapter of QueueStore: the embedded default.

WAL mode; one writer thread owns the only writing connection, so every `mutate` is a
read-modify-write run start to end in that thread inside BEGIN IMMEDIATE: nothing can
interleave with it, in this process or another (the file lock). Readers use their own
connections from a small pool, so lists never wait behind writes. aiosqlite was not used:
its per-statement awaits would let other coroutines interleave inside a transaction.

The hot read (GET /queues/{id}) is served from a bounded cache of documents: only this
process writes queues to the file; the writer thread updates the cache after each commit,
and a read fills it only with a revision newer than the cached one, so the cache is never
older than the file.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal, TypeVar

import orjson

from app.errors import AlreadyExists, QueueNotFound, StoreUnavailable
from app.models.queries import QueueFilter
from app.models.queues import QueueState, queue_from_json, queue_json, utcnow
from app.models.status import TERMINAL, Status
from app.store.base import JsonPage, Mutation, QueuePage, readable_queues

T = TypeVar("T")
BUSY_TIMEOUT_MS = 2000
CACHED_DOCUMENTS = 10_000
SCHEMA = """
CREATE TABLE IF NOT EXISTS queues (
  id TEXT PRIMARY KEY, status TEXT NOT NULL, symbol TEXT NOT NULL,
  created_at TEXT NOT NULL, revision INTEGER NOT NULL, doc BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS queues_by_created ON queues(created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS queues_by_status ON queues(status, created_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS queue_symbols (
  symbol TEXT NOT NULL, queue_id TEXT NOT NULL, PRIMARY KEY (symbol, queue_id));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


class SqliteQueueStore:
    def __init__(self, path: Path, readers: int = 4) -> None:
        self._path = path
        self._writer_pool = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._reader_pool = ThreadPoolExecutor(readers, thread_name_prefix="sqlite-reader")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._documents: dict[str, tuple[int, bytes]] = {}
        """(revision, JSON) by id; changed under `_lock`, read from the event loop."""
        self._state: Literal["closed", "opening", "open"] = "closed"
        self._open_error: str | None = None

    async def open(self) -> None:
        """Create the file and schema; fails with StoreUnavailable (retried by start-up)."""
        if self._state == "open":
            return
        self._state = "opening"
        try:
            await self._write(_create_schema)
        except StoreUnavailable as error:
            self._state, self._open_error = "closed", error.message
            raise
        self._state = "open"

    async def close(self) -> None:
        for pool in (self._writer_pool, self._reader_pool):
            await asyncio.to_thread(pool.shutdown, True)
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()

    async def create(self, queue: QueueState) -> None:
        await self._write(lambda db: _insert(db, queue), remember=lambda _: [queue])

    async def get(self, queue_id: str) -> QueueState:
        return await self._read(lambda db: _load(db, queue_id))

    async def get_json(self, queue_id: str) -> bytes:
        cached = self._documents.get(queue_id)
        if cached is not None:
            return cached[1]
        revision, document = await self._read(lambda db: _load_revision(db, queue_id))
        self._remember(queue_id, revision, document)
        return document

    async def page(self, query: QueueFilter) -> QueuePage:
        found = await self.page_json(query)
        return QueuePage([queue_from_json(doc) for doc in found.documents], found.total)

    async def page_json(self, query: QueueFilter) -> JsonPage:
        return await self._read(lambda db: _page(db, query))

    async def mutate(self, queue_id: str, change: Mutation) -> tuple[QueueState, bool]:
        return await self._write(
            lambda db: _mutate(db, queue_id, change),
            remember=lambda result: [result[0]] if result[1] else [],
        )

    async def mutate_many(self, changes: dict[str, Mutation]) -> dict[str, tuple[QueueState, bool]]:
        return await self._write(
            lambda db: _mutate_many(db, changes),
            remember=lambda results: [queue for queue, changed in results.values() if changed],
        )

    async def active(self) -> list[QueueState]:
        return await self._read(_active)

    async def active_revisions(self) -> dict[str, int]:
        return await self._read(_active_revisions)

    async def count_by_status(self) -> dict[Status, int]:
        rows = await self._read(
            lambda db: db.execute("SELECT status, COUNT(*) FROM queues GROUP BY status").fetchall()
        )
        counts = dict.fromkeys(Status, 0)
        counts.update({Status(status): count for status, count in rows})
        return counts

    async def hold_lease(self, name: str, holder: str, seconds: float) -> bool:
        return await self._write(lambda db: _hold_lease(db, name, holder, seconds))

    async def ping(self) -> None:
        """A real write: a locked or read-only file fails here, not only on the next start."""
        stamp = utcnow().isoformat()
        await self._write(
            lambda db: db.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('heartbeat', ?)", (stamp,)
            )
        )

    def _check_open(self) -> None:
        if self._state == "closed":
            why = f": {self._open_error}" if self._open_error else ""
            raise StoreUnavailable(f"SQLite store not open yet{why}")

    async def _write(
        self,
        work: Callable[[sqlite3.Connection], T],
        remember: Callable[[T], list[QueueState]] = lambda _: [],
    ) -> T:
        self._check_open()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer_pool, self._transaction, work, remember)

    async def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        self._check_open()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader_pool, self._guarded, work)

    def _transaction(
        self, work: Callable[[sqlite3.Connection], T], remember: Callable[[T], list[QueueState]]
    ) -> T:
        def in_transaction(db: sqlite3.Connection) -> T:
            db.execute("BEGIN IMMEDIATE")
            try:
                result = work(db)
            except BaseException:
                db.rollback()
                raise
            db.commit()
            return result

        result = self._guarded(in_transaction)
        for written in remember(result):
            self._cache(written)
        return result

    def _cache(self, queue: QueueState) -> None:
        self._remember(queue.id, queue.revision, queue_json(queue))

    def _remember(self, queue_id: str, revision: int, document: bytes) -> None:
        """Keep the newest revision seen; a slow reader never overwrites a newer write."""
        with self._lock:
            cached = self._documents.get(queue_id)
            if cached is not None and cached[0] >= revision:
                return
            if len(self._documents) >= CACHED_DOCUMENTS:
                self._documents.pop(next(iter(self._documents)))
            self._documents[queue_id] = (revision, document)

    def _guarded(self, work: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return work(self._connection())
        except sqlite3.IntegrityError as error:
            raise AlreadyExists(f"queue already exists: {error}") from error
        except (sqlite3.Error, OSError) as error:  # the path stays out: answers are public
            raise StoreUnavailable(f"SQLite store: {_in_words(error)}") from error

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            connection = connect(self._path, BUSY_TIMEOUT_MS)
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection


def _in_words(error: Exception) -> str:
    return (error.strerror or str(error)) if isinstance(error, OSError) else str(error)


def _create_schema(db: sqlite3.Connection) -> None:
    db.executescript(SCHEMA)


def connect(path: Path, busy_timeout_ms: int) -> sqlite3.Connection:
    """A connection to the service's SQLite file as every writer of it opens one: WAL,
    autocommit (transactions are explicit), waiting up to `busy_timeout_ms` for a lock."""
    db = sqlite3.connect(
        path, timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
    )
    db.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


def _insert(db: sqlite3.Connection, queue: QueueState) -> None:
    db.execute(
        "INSERT INTO queues(id, status, symbol, created_at, revision, doc) VALUES (?,?,?,?,?,?)",
        (
            queue.id,
            queue.status,
            queue.symbol,
            queue.created_at.isoformat(),
            queue.revision,
            queue_json(queue),
        ),
    )
    db.executemany(
        "INSERT OR IGNORE INTO queue_symbols(symbol, queue_id) VALUES (?, ?)",
        [(symbol, queue.id) for symbol in queue.symbols or [queue.symbol]],
    )


def _load(db: sqlite3.Connection, queue_id: str) -> QueueState:
    return queue_from_json(_load_json(db, queue_id))


def _load_json(db: sqlite3.Connection, queue_id: str) -> bytes:
    return _load_revision(db, queue_id)[1]


def _load_revision(db: sqlite3.Connection, queue_id: str) -> tuple[int, bytes]:
    row = db.execute("SELECT revision, doc FROM queues WHERE id = ?", (queue_id,)).fetchone()
    if row is None:
        raise QueueNotFound(f"no queue with id {queue_id}")
    return int(row[0]), bytes(row[1])


def _mutate(db: sqlite3.Connection, queue_id: str, change: Mutation) -> tuple[QueueState, bool]:
    queue = _load(db, queue_id)
    if not change(queue):
        return queue, False
    queue.revision += 1
    db.execute(
        "UPDATE queues SET status = ?, revision = ?, doc = ? WHERE id = ?",
        (queue.status, queue.revision, queue_json(queue), queue_id),
    )
    return queue, True


def _mutate_many(
    db: sqlite3.Connection, changes: dict[str, Mutation]
) -> dict[str, tuple[QueueState, bool]]:
    results = {}
    for queue_id, change in changes.items():
        try:
            results[queue_id] = _mutate(db, queue_id, change)
        except QueueNotFound:
            continue
    return results


def _page(db: sqlite3.Connection, query: QueueFilter) -> JsonPage:
    where, params = _where(query)
    total = db.execute(f"SELECT COUNT(*) FROM queues {where}", params).fetchone()[0]
    rows = db.execute(
        f"SELECT doc FROM queues {where} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
        [*params, query.limit, query.offset],
    ).fetchall()
    return JsonPage([bytes(row[0]) for row in rows], total)


def _where(query: QueueFilter) -> tuple[str, list[str]]:
    clauses, params = [], []
    if query.status is not None:
        clauses.append("status = ?")
        params.append(query.status.value)
    if query.symbol is not None:
        clauses.append("id IN (SELECT queue_id FROM queue_symbols WHERE symbol = ?)")
        params.append(query.symbol.upper())
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


def _hold_lease(db: sqlite3.Connection, name: str, holder: str, seconds: float) -> bool:
    """In the write transaction: read the lease, take it when free, expired or ours."""
    key, now = f"lease:{name}", time.time()
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    if row is not None:
        current = orjson.loads(row[0])
        if current["holder"] != holder and current["expires_at"] > now:
            return False
    lease = orjson.dumps({"holder": holder, "expires_at": now + seconds}).decode()
    db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, lease))
    return True


def _active_revisions(db: sqlite3.Connection) -> dict[str, int]:
    placeholders = ",".join("?" for _ in TERMINAL)
    rows = db.execute(
        f"SELECT id, revision FROM queues WHERE status NOT IN ({placeholders})",
        [s.value for s in TERMINAL],
    ).fetchall()
    return dict(rows)


def _active(db: sqlite3.Connection) -> list[QueueState]:
    placeholders = ",".join("?" for _ in TERMINAL)
    rows = db.execute(
        f"SELECT id, doc FROM queues WHERE status NOT IN ({placeholders})",
        [s.value for s in TERMINAL],
    ).fetchall()
    return readable_queues(rows, queue_from_json)
