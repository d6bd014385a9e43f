"""ArangoDB adapter of ScheduleStore: collection `schedules`, `_key` = schedule id, a unique
persistent index on `name`.

`mutate` is optimistic, as for queues: read with `_rev`, change, replace with a revision
check (If-Match), and on a conflict (1200) run the change again on the newer document. This
is what makes a slot's claim safe between replicas: the second claimant's change runs on a
document whose cursor already passed the slot, so it claims nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from arango.database import StandardDatabase
from arango.exceptions import (
    DocumentDeleteError,
    DocumentInsertError,
    DocumentReplaceError,
    DocumentRevisionError,
)

from app.config import Settings
from app.errors import AlreadyExists, ConcurrentUpdate, ScheduleNotFound, StoreUnavailable
from app.models.schedules import ScheduleState
from app.store.arango_client import arango_client, arango_errors, ensure_collections
from app.store.arango_client import prepare_database as prepare
from app.store.base import ScheduleChange
from app.store.keys import is_legal_key

T = TypeVar("T")
COLLECTION = "schedules"
MAX_ATTEMPTS = 20
CONFLICT = 1200
DOCUMENT_NOT_FOUND = 1202
UNIQUE_CONSTRAINT = 1210
ALL_QUERY = "FOR s IN schedules SORT s.name RETURN s"


class ArangoScheduleStore:
    def __init__(self, settings: Settings, timeout_seconds: float = 5.0) -> None:
        self._settings = settings
        self._client = arango_client(settings.arango_url or "", timeout_seconds)
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="arango-schedules")
        self._db: StandardDatabase | None = None

    async def open(self) -> None:
        self._db = await self._call("open the schedule store", self._prepare)

    async def close(self) -> None:
        await asyncio.to_thread(self._pool.shutdown, True)
        self._client.close()

    async def create(self, schedule: ScheduleState) -> None:
        await self._call("record the schedule", lambda: self._insert(schedule))

    async def get(self, schedule_id: str) -> ScheduleState:
        document = await self._call("read the schedule", lambda: self._fetch(schedule_id))
        return _schedule(document)

    async def all(self) -> list[ScheduleState]:
        rows = await self._call("list schedules", self._all)
        return [_schedule(row) for row in rows]

    async def mutate(self, schedule_id: str, change: ScheduleChange) -> tuple[ScheduleState, bool]:
        return await self._call("update the schedule", lambda: self._mutate(schedule_id, change))

    async def delete(self, schedule_id: str) -> None:
        await self._call("delete the schedule", lambda: self._delete(schedule_id))

    # --- synchronous parts, run in the pool ------------------------------------------------
    def _prepare(self) -> StandardDatabase:
        db = prepare(self._client, self._settings)
        ensure_collections(db, (COLLECTION,))
        collection = db.collection(COLLECTION)
        indexes: Any = collection.indexes()
        if not any(i["type"] == "persistent" and i["fields"] == ["name"] for i in indexes):
            collection.add_index({"type": "persistent", "fields": ["name"], "unique": True})
        return db

    def _insert(self, schedule: ScheduleState) -> None:
        try:
            self._collection().insert(_document(schedule))
        except DocumentInsertError as error:
            if error.error_code == UNIQUE_CONSTRAINT:
                raise _taken(schedule, error) from error
            raise

    def _all(self) -> list[Any]:
        cursor: Any = self._database().aql.execute(ALL_QUERY)
        return list(cursor)

    def _mutate(self, schedule_id: str, change: ScheduleChange) -> tuple[ScheduleState, bool]:
        for _ in range(MAX_ATTEMPTS):
            document = self._fetch(schedule_id)
            schedule = _schedule(document)
            if not change(schedule):
                return schedule, False
            schedule.revision += 1
            if self._replace_if_unchanged(schedule, document["_rev"]):
                return schedule, True
        raise ConcurrentUpdate(f"schedule {schedule_id} changed {MAX_ATTEMPTS} times meanwhile")

    def _replace_if_unchanged(self, schedule: ScheduleState, revision: str) -> bool:
        """False on a revision conflict (run the change again)."""
        try:
            self._collection().replace({**_document(schedule), "_rev": revision}, check_rev=True)
        except (DocumentRevisionError, DocumentReplaceError) as error:
            if error.error_code == CONFLICT:
                return False
            if error.error_code == DOCUMENT_NOT_FOUND:
                raise ScheduleNotFound(f"schedule {schedule.id} was deleted meanwhile") from error
            if error.error_code == UNIQUE_CONSTRAINT:
                raise _taken(schedule, error) from error
            raise
        return True

    def _delete(self, schedule_id: str) -> None:
        if not _addressable(schedule_id):
            raise ScheduleNotFound(f"no schedule with id {schedule_id}")
        try:
            self._collection().delete(schedule_id)
        except DocumentDeleteError as error:
            if error.error_code == DOCUMENT_NOT_FOUND:
                raise ScheduleNotFound(f"no schedule with id {schedule_id}") from error
            raise

    def _fetch(self, schedule_id: str) -> dict[str, Any]:
        document = self._collection().get(schedule_id) if _addressable(schedule_id) else None
        if document is None:
            raise ScheduleNotFound(f"no schedule with id {schedule_id}")
        return dict(document)

    def _database(self) -> StandardDatabase:
        if self._db is None:
            raise StoreUnavailable("ArangoDB schedule store used before open()")
        return self._db

    def _collection(self) -> Any:
        return self._database().collection(COLLECTION)

    async def _call(self, action: str, work: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, _guarded, action, work)


def _guarded(action: str, work: Callable[[], T]) -> T:
    with arango_errors(action):
        return work()


def _addressable(schedule_id: str) -> bool:
    """Ids are UUIDs: one that is no legal key, or holds a `%`, is simply not found."""
    return is_legal_key(schedule_id) and "%" not in schedule_id


def _taken(schedule: ScheduleState, error: Exception) -> AlreadyExists:
    return AlreadyExists(f"a schedule named {schedule.name!r} (or with its id) already exists")


def _document(schedule: ScheduleState) -> dict[str, Any]:
    return {"_key": schedule.id, **schedule.model_dump(mode="json")}


def _schedule(document: dict[str, Any]) -> ScheduleState:
    return ScheduleState.model_validate(
        {k: v for k, v in document.items() if not k.startswith("_")}
    )
