"""ArangoDB adapter of QueueStore (python-arango), for cluster mode.

Documents of collection `queue_state` are QueueState with `_key` = queue id. `mutate` is
optimistic: read with `_rev`, change, replace with a revision check, retry on conflict;
so a stop and a telemetry update arriving together both land. The client is synchronous:
calls run in a small thread pool, one attempt each (app/store/arango_client.py), and every
failure becomes ours. The AQL is the fixed set below, nothing is built from input.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import orjson
from arango.database import StandardDatabase
from arango.exceptions import DocumentInsertError, DocumentReplaceError, DocumentRevisionError

from app.config import StoreSettings
from app.errors import AlreadyExists, ConcurrentUpdate, QueueNotFound, StoreUnavailable
from app.models.queries import QueueFilter
from app.models.queues import QueueState, queue_json, utcnow
from app.models.status import TERMINAL, Status
from app.store.arango_client import (
    arango_client,
    arango_errors,
    ensure_collections,
    ensure_indexes,
    prepare_database,
)
from app.store.base import JsonPage, Mutation, QueuePage, readable_queues
from app.store.keys import is_legal_key

T = TypeVar("T")
COLLECTION = "queue_state"
META = "queue_manager_meta"
MAX_ATTEMPTS = 20
CONFLICT = 1200
DOCUMENT_NOT_FOUND = 1202
UNIQUE_CONSTRAINT = 1210
INDEXES = (["created_at", "_key"], ["status", "created_at"], ["symbols[*]"])
PAGE_QUERY = """
FOR q IN queue_state
  FILTER @status == null OR q.status == @status
  FILTER @symbol == null OR @symbol IN q.symbols
  SORT q.created_at DESC, q._key DESC
  LIMIT @offset, @limit
  RETURN q
"""
COUNT_QUERY = """
RETURN LENGTH(FOR q IN queue_state
  FILTER @status == null OR q.status == @status
  FILTER @symbol == null OR @symbol IN q.symbols
  RETURN 1)
"""
ACTIVE_QUERY = "FOR q IN queue_state FILTER q.status NOT IN @ended RETURN q"
REVISIONS_QUERY = "FOR q IN queue_state FILTER q.status NOT IN @ended RETURN [q._key, q.revision]"
BY_STATUS_QUERY = "FOR q IN queue_state COLLECT s = q.status WITH COUNT INTO n RETURN [s, n]"


class ArangoQueueStore:
    def __init__(self, settings: StoreSettings, timeout_seconds: float = 5.0) -> None:
        self._settings = settings
        self._client = arango_client(settings.arango_url or "", timeout_seconds)
        self._pool = ThreadPoolExecutor(4, thread_name_prefix="arango")
        self._db: StandardDatabase | None = None
        self._open_error: str | None = None

    async def open(self) -> None:
        """Database, collections, indexes; fails with StoreUnavailable (start-up retries)."""
        if self._db is not None:
            return
        try:
            self._db = await self._call("open the queue store", self._prepare)
        except StoreUnavailable as error:
            self._open_error = error.message
            raise

    async def close(self) -> None:
        await asyncio.to_thread(self._pool.shutdown, True)
        self._client.close()

    async def create(self, queue: QueueState) -> None:
        await self._call("record the queue", lambda: self._insert(queue))

    async def get(self, queue_id: str) -> QueueState:
        return _queue(await self._call("read the queue", lambda: self._fetch(queue_id)))

    async def get_json(self, queue_id: str) -> bytes:
        document = await self._call("read the queue", lambda: self._fetch(queue_id))
        return orjson.dumps({k: v for k, v in document.items() if not k.startswith("_")})

    async def page(self, query: QueueFilter) -> QueuePage:
        binds = {
            "status": query.status.value if query.status else None,
            "symbol": query.symbol.upper() if query.symbol else None,
        }
        page = {**binds, "offset": query.offset, "limit": query.limit}
        rows = await self._call("list queues", lambda: self._aql(PAGE_QUERY, page))
        total = await self._call("count queues", lambda: self._aql(COUNT_QUERY, binds))
        return QueuePage(items=[_queue(row) for row in rows], total=int(total[0]))

    async def page_json(self, query: QueueFilter) -> JsonPage:
        found = await self.page(query)
        return JsonPage([queue_json(q) for q in found.items], found.total)

    async def mutate(self, queue_id: str, change: Mutation) -> tuple[QueueState, bool]:
        return await self._call("update the queue", lambda: self._mutate(queue_id, change))

    async def mutate_many(self, changes: dict[str, Mutation]) -> dict[str, tuple[QueueState, bool]]:
        """One document at a time: each has its own revision check, no transaction needed."""
        return await self._call("update queues", lambda: self._mutate_each(changes))

    async def active(self) -> list[QueueState]:
        ended = {"ended": [status.value for status in TERMINAL]}
        rows = await self._call("list active queues", lambda: self._aql(ACTIVE_QUERY, ended))
        return readable_queues(((row["_key"], row) for row in rows), _queue)

    async def active_revisions(self) -> dict[str, int]:
        ended = {"ended": [status.value for status in TERMINAL]}
        rows = await self._call("list active revisions", lambda: self._aql(REVISIONS_QUERY, ended))
        return {str(key): int(revision) for key, revision in rows}

    async def count_by_status(self) -> dict[Status, int]:
        rows = await self._call("count queues", lambda: self._aql(BY_STATUS_QUERY, {}))
        counts = dict.fromkeys(Status, 0)
        counts.update({Status(status): count for status, count in rows})
        return counts

    async def hold_lease(self, name: str, holder: str, seconds: float) -> bool:
        return await self._call(
            f"hold the {name} lease", lambda: self._hold_lease(name, holder, seconds)
        )

    async def ping(self) -> None:
        stamp = {"_key": "heartbeat", "at": utcnow().isoformat()}
        await self._call(
            "write a heartbeat",
            lambda: self._database().collection(META).insert(stamp, overwrite=True, silent=True),
        )

    # --- synchronous parts, run in the pool ------------------------------------------------
    def _prepare(self) -> StandardDatabase:
        """The database, collections and indexes, each created only when missing."""
        db = prepare_database(self._client, self._settings)
        ensure_collections(db, (COLLECTION, META))
        ensure_indexes(db.collection(COLLECTION), INDEXES)
        return db

    def _hold_lease(self, name: str, holder: str, seconds: float) -> bool:
        """A conditional write on the lease document of `queue_manager_meta`: inserted when
        missing, replaced with a revision check when expired or ours; a concurrent taker
        makes the insert or the replace fail, and that replica has no lease this time."""
        meta: Any = self._database().collection(META)
        key, now = f"lease-{name}", time.time()
        lease = {"_key": key, "holder": holder, "expires_at": now + seconds}
        current = meta.get(key)
        if current is None:
            return _conditional(lambda: meta.insert(lease))
        if current.get("holder") != holder and current.get("expires_at", 0) > now:
            return False
        revised = {**lease, "_rev": current["_rev"]}
        return _conditional(lambda: meta.replace(revised, check_rev=True))

    def _insert(self, queue: QueueState) -> None:
        try:
            self._collection().insert(_document(queue))
        except DocumentInsertError as error:
            if error.error_code == UNIQUE_CONSTRAINT:
                raise AlreadyExists(f"queue already exists: {error.error_message}") from error
            raise

    def _mutate(self, queue_id: str, change: Mutation) -> tuple[QueueState, bool]:
        for _ in range(MAX_ATTEMPTS):
            document = self._fetch(queue_id)
            queue = _queue(document)
            if not change(queue):
                return queue, False
            queue.revision += 1
            if self._replace_if_unchanged(queue, document["_rev"]):
                return queue, True
        raise ConcurrentUpdate(f"queue {queue_id} changed {MAX_ATTEMPTS} times while updating")

    def _mutate_each(self, changes: dict[str, Mutation]) -> dict[str, tuple[QueueState, bool]]:
        results = {}
        for queue_id, change in changes.items():
            try:
                results[queue_id] = self._mutate(queue_id, change)
            except QueueNotFound:
                continue
        return results

    def _replace_if_unchanged(self, queue: QueueState, revision: str) -> bool:
        """False on a revision conflict (retry); a document deleted since it was read is
        QueueNotFound; any other failure (a proxy's 5xx without an error code) propagates."""
        try:
            self._collection().replace({**_document(queue), "_rev": revision}, check_rev=True)
        except (DocumentRevisionError, DocumentReplaceError) as error:
            if error.error_code == CONFLICT:
                return False
            if error.error_code == DOCUMENT_NOT_FOUND:
                raise QueueNotFound(f"queue {queue.id} was deleted while updating") from error
            raise
        return True

    def _fetch(self, queue_id: str) -> dict[str, Any]:
        """The stored document. Queue ids are UUIDs: an id that is no legal key, or holds a
        `%` (the server would decode it in the URL), is simply not found."""
        addressable = is_legal_key(queue_id) and "%" not in queue_id
        document = self._collection().get(queue_id) if addressable else None
        if document is None:
            raise QueueNotFound(f"no queue with id {queue_id}")
        return dict(document)

    def _aql(self, query: str, binds: dict[str, Any]) -> list[Any]:
        cursor: Any = self._database().aql.execute(query, bind_vars=binds)
        return list(cursor)

    def _database(self) -> StandardDatabase:
        if self._db is None:
            why = f": {self._open_error}" if self._open_error else ""
            raise StoreUnavailable(f"ArangoDB not connected yet{why}")
        return self._db

    def _collection(self) -> Any:
        return self._database().collection(COLLECTION)

    async def _call(self, action: str, work: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, _guarded, action, work)


def _conditional(write: Callable[[], object]) -> bool:
    """True when the write landed, False when another writer got there first."""
    try:
        write()
    except (DocumentInsertError, DocumentReplaceError, DocumentRevisionError) as error:
        if error.error_code in (CONFLICT, UNIQUE_CONSTRAINT):
            return False
        raise
    return True


def _guarded(action: str, work: Callable[[], T]) -> T:
    with arango_errors(action):
        return work()


def _document(queue: QueueState) -> dict[str, Any]:
    return {"_key": queue.id, **queue.model_dump(mode="json")}


def _queue(document: dict[str, Any]) -> QueueState:
    fields = {k: v for k, v in document.items() if not k.startswith("_")}
    return QueueState.model_validate(fields)
