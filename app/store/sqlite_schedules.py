"""SQLite adapter of ScheduleStore: table `schedules` in the queue store's file.

Same discipline as the queue store: one writer thread runs every change start to end inside
BEGIN IMMEDIATE, so a read-modify-write cannot interleave with another (in this process or
another one on the file). The name is a UNIQUE column.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from app.errors import AlreadyExists, ScheduleNotFound, StoreUnavailable
from app.models.schedules import ScheduleState
from app.store.base import ScheduleChange
from app.store.sqlite import BUSY_TIMEOUT_MS, connect

T = TypeVar("T")
SCHEMA = """
CREATE TABLE IF NOT EXISTS schedules (
  id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, revision INTEGER NOT NULL, doc BLOB NOT NULL);
"""


class SqliteScheduleStore:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="sqlite-schedules")
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    async def open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        await self._run(lambda db: db.executescript(SCHEMA), transaction=False)

    async def close(self) -> None:
        await asyncio.to_thread(self._pool.shutdown, True)
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    async def create(self, schedule: ScheduleState) -> None:
        await self._run(lambda db: _insert(db, schedule))

    async def get(self, schedule_id: str) -> ScheduleState:
        return await self._run(lambda db: _load(db, schedule_id), transaction=False)

    async def all(self) -> list[ScheduleState]:
        rows = await self._run(
            lambda db: db.execute("SELECT doc FROM schedules ORDER BY name").fetchall(),
            transaction=False,
        )
        return [ScheduleState.model_validate_json(row[0]) for row in rows]

    async def mutate(self, schedule_id: str, change: ScheduleChange) -> tuple[ScheduleState, bool]:
        return await self._run(lambda db: _mutate(db, schedule_id, change))

    async def delete(self, schedule_id: str) -> None:
        await self._run(lambda db: _delete(db, schedule_id))

    async def _run(self, work: Callable[[sqlite3.Connection], T], transaction: bool = True) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._guarded, work, transaction)

    def _guarded(self, work: Callable[[sqlite3.Connection], T], transaction: bool) -> T:
        db = self._connection()
        try:
            if not transaction:
                return work(db)
            db.execute("BEGIN IMMEDIATE")
            try:
                result = work(db)
            except BaseException:
                db.rollback()
                raise
            db.commit()
            return result
        except sqlite3.Error as error:
            raise StoreUnavailable(f"SQLite store {self._path}: {error}") from error

    def _connection(self) -> sqlite3.Connection:
        with self._lock:
            if self._db is None:
                self._db = connect(self._path, BUSY_TIMEOUT_MS)
            return self._db


def _insert(db: sqlite3.Connection, schedule: ScheduleState) -> None:
    with _named(schedule):
        db.execute(
            "INSERT INTO schedules(id, name, revision, doc) VALUES (?, ?, ?, ?)",
            (schedule.id, schedule.name, schedule.revision, schedule.model_dump_json()),
        )


@contextmanager
def _named(schedule: ScheduleState) -> Iterator[None]:
    """A taken name (or id) in words."""
    try:
        yield
    except sqlite3.IntegrityError as error:
        raise AlreadyExists(
            f"a schedule named {schedule.name!r} (or with its id) already exists"
        ) from error


def _load(db: sqlite3.Connection, schedule_id: str) -> ScheduleState:
    row = db.execute("SELECT doc FROM schedules WHERE id = ?", (schedule_id,)).fetchone()
    if row is None:
        raise ScheduleNotFound(f"no schedule with id {schedule_id}")
    return ScheduleState.model_validate_json(row[0])


def _mutate(
    db: sqlite3.Connection, schedule_id: str, change: ScheduleChange
) -> tuple[ScheduleState, bool]:
    schedule = _load(db, schedule_id)
    if not change(schedule):
        return schedule, False
    schedule.revision += 1
    with _named(schedule):
        db.execute(
            "UPDATE schedules SET name = ?, revision = ?, doc = ? WHERE id = ?",
            (schedule.name, schedule.revision, schedule.model_dump_json(), schedule_id),
        )
    return schedule, True


def _delete(db: sqlite3.Connection, schedule_id: str) -> None:
    if db.execute("DELETE FROM schedules WHERE id = ?", (schedule_id,)).rowcount == 0:
        raise ScheduleNotFound(f"no schedule with id {schedule_id}")
