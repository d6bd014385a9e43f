"""SQLite adapter of CoverageStore: table `coverage_days` in the queue store's file.

One writer thread runs each merge start to end inside BEGIN IMMEDIATE (read, union, write
every day of the call), so merges never interleave, in this process or another.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import TypeVar

import orjson

from app.coverage.days import DayRecord, Series, SeriesFilter, merged
from app.errors import StoreUnavailable
from app.store.sqlite import BUSY_TIMEOUT_MS, connect

T = TypeVar("T")
SCHEMA = """
CREATE TABLE IF NOT EXISTS coverage_days (
  exchange TEXT NOT NULL, symbol TEXT NOT NULL, data_type TEXT NOT NULL, day TEXT NOT NULL,
  doc BLOB NOT NULL, PRIMARY KEY (exchange, symbol, data_type, day)) WITHOUT ROWID;
"""
SERIES = """
SELECT exchange, symbol, data_type, MIN(day), MAX(day) FROM coverage_days
WHERE (?1 IS NULL OR exchange = ?1) AND (?2 IS NULL OR symbol = ?2)
  AND (?3 IS NULL OR data_type = ?3)
GROUP BY exchange, symbol, data_type ORDER BY exchange, symbol, data_type LIMIT ?4
"""
DAYS = """
SELECT doc FROM coverage_days
WHERE exchange = ? AND symbol = ? AND data_type = ? AND day BETWEEN ? AND ? ORDER BY day
"""


class SqliteCoverageStore:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="sqlite-coverage")
        self._db: sqlite3.Connection | None = None

    async def open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        await self._run(lambda db: db.executescript(SCHEMA))

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._pool, self._close_connection)
        await asyncio.to_thread(self._pool.shutdown, True)

    async def merge(self, updates: Sequence[DayRecord]) -> None:
        if updates:
            await self._run(lambda db: _in_transaction(db, lambda: _merge(db, updates)))

    async def series(self, which: SeriesFilter, limit: int) -> list[Series]:
        binds = (which.exchange, which.symbol, which.data_type, limit)
        rows = await self._run(lambda db: db.execute(SERIES, binds).fetchall())
        return [
            Series(e, s, t, date.fromisoformat(a), date.fromisoformat(b)) for e, s, t, a, b in rows
        ]

    async def days(self, series: Series, first: date, last: date) -> list[DayRecord]:
        binds = (
            series.exchange,
            series.symbol,
            series.data_type,
            first.isoformat(),
            last.isoformat(),
        )
        rows = await self._run(lambda db: db.execute(DAYS, binds).fetchall())
        return [DayRecord.from_doc(orjson.loads(row[0])) for row in rows]

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._guarded, work)

    def _guarded(self, work: Callable[[sqlite3.Connection], T]) -> T:
        try:
            if self._db is None:
                self._db = connect(self._path, BUSY_TIMEOUT_MS)
            return work(self._db)
        except sqlite3.Error as error:
            raise StoreUnavailable(f"SQLite coverage {self._path}: {error}") from error

    def _close_connection(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            db.close()


def _in_transaction(db: sqlite3.Connection, work: Callable[[], T]) -> T:
    db.execute("BEGIN IMMEDIATE")
    try:
        result = work()
    except BaseException:
        db.rollback()
        raise
    db.commit()
    return result


def _merge(db: sqlite3.Connection, updates: Sequence[DayRecord]) -> None:
    """Each day read once, every update of it merged in, written once."""
    days: dict[str, DayRecord | None] = {}
    for update in updates:
        if update.key not in days:
            days[update.key] = _load(db, update)
        days[update.key] = merged(days[update.key], update)
    db.executemany(
        "INSERT OR REPLACE INTO coverage_days(exchange, symbol, data_type, day, doc) "
        "VALUES (?, ?, ?, ?, ?)",
        [
            (d.exchange, d.symbol, d.data_type, d.day.isoformat(), orjson.dumps(d.to_doc()))
            for d in days.values()
            if d is not None
        ],
    )


def _load(db: sqlite3.Connection, update: DayRecord) -> DayRecord | None:
    row = db.execute(
        "SELECT doc FROM coverage_days WHERE exchange = ? AND symbol = ? AND data_type = ? "
        "AND day = ?",
        (update.exchange, update.symbol, update.data_type, update.day.isoformat()),
    ).fetchone()
    return DayRecord.from_doc(orjson.loads(row[0])) if row else None
