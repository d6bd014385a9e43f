"""ArangoDB adapter of CoverageStore: collection `coverage_days`, `_key` = the day's key
(`binance:BTCUSDT:candles_1m:2024-01-01`), a persistent index on (exchange, symbol,
data_type, day).

A merge is optimistic per day document, as `mutate` is for queues: read with `_rev`, union,
replace with a revision check, and on a conflict (1200) merge again into the newer
document; a day created meanwhile by another replica (1210 on insert) is merged into the
same way. The AQL is the fixed pair below; input reaches it only as bind parameters.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any, TypeVar

from arango.database import StandardDatabase
from arango.exceptions import DocumentInsertError, DocumentReplaceError, DocumentRevisionError

from app.config import StoreSettings
from app.coverage.days import DayRecord, Series, SeriesFilter, merged
from app.errors import ConcurrentUpdate, StoreUnavailable
from app.store.arango_client import (
    arango_client,
    arango_errors,
    ensure_collections,
    ensure_indexes,
    prepare_database,
)

T = TypeVar("T")
COLLECTION = "coverage_days"
INDEXES = (["exchange", "symbol", "data_type", "day"],)
MAX_ATTEMPTS = 20
CONFLICT = 1200
UNIQUE_CONSTRAINT = 1210
SERIES_QUERY = """
FOR d IN coverage_days
  FILTER @exchange == null OR d.exchange == @exchange
  FILTER @symbol == null OR d.symbol == @symbol
  FILTER @data_type == null OR d.data_type == @data_type
  COLLECT exchange = d.exchange, symbol = d.symbol, data_type = d.data_type
    AGGREGATE first_day = MIN(d.day), last_day = MAX(d.day)
  SORT exchange, symbol, data_type
  LIMIT @limit
  RETURN [exchange, symbol, data_type, first_day, last_day]
"""
DAYS_QUERY = """
FOR d IN coverage_days
  FILTER d.exchange == @exchange AND d.symbol == @symbol AND d.data_type == @data_type
  FILTER d.day >= @first AND d.day <= @last
  SORT d.day
  RETURN d
"""


class ArangoCoverageStore:
    def __init__(self, settings: StoreSettings, timeout_seconds: float = 5.0) -> None:
        self._settings = settings
        self._client = arango_client(settings.arango_url or "", timeout_seconds)
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="arango-coverage")
        self._db: StandardDatabase | None = None

    async def open(self) -> None:
        self._db = await self._call("open the coverage store", self._prepare)

    async def close(self) -> None:
        await asyncio.to_thread(self._pool.shutdown, True)
        self._client.close()

    async def merge(self, updates: Sequence[DayRecord]) -> None:
        if updates:
            await self._call("merge coverage", lambda: self._merge_all(updates))

    async def series(self, which: SeriesFilter, limit: int) -> list[Series]:
        binds = {
            "exchange": which.exchange,
            "symbol": which.symbol,
            "data_type": which.data_type,
            "limit": limit,
        }
        rows = await self._call("list coverage series", lambda: self._aql(SERIES_QUERY, binds))
        return [
            Series(e, s, t, date.fromisoformat(a), date.fromisoformat(b)) for e, s, t, a, b in rows
        ]

    async def days(self, series: Series, first: date, last: date) -> list[DayRecord]:
        binds = {
            "exchange": series.exchange,
            "symbol": series.symbol,
            "data_type": series.data_type,
            "first": first.isoformat(),
            "last": last.isoformat(),
        }
        rows = await self._call("read coverage days", lambda: self._aql(DAYS_QUERY, binds))
        return [DayRecord.from_doc(row) for row in rows]

    # --- synchronous parts, run in the pool ------------------------------------------------
    def _prepare(self) -> StandardDatabase:
        db = prepare_database(self._client, self._settings)
        ensure_collections(db, (COLLECTION,))
        ensure_indexes(db.collection(COLLECTION), INDEXES)
        return db

    def _merge_all(self, updates: Sequence[DayRecord]) -> None:
        by_key: dict[str, DayRecord] = {}
        for update in updates:
            known = by_key.get(update.key)
            by_key[update.key] = update if known is None else merged(known, update)
        for update in by_key.values():
            self._merge_one(update)

    def _merge_one(self, update: DayRecord) -> None:
        collection = self._database().collection(COLLECTION)
        for _ in range(MAX_ATTEMPTS):
            stored: Any = collection.get(update.key)
            if stored is None:
                if self._inserted(merged(None, update)):
                    return
                continue
            document = {"_key": update.key, "_rev": stored["_rev"]}
            day = merged(DayRecord.from_doc(stored), update)
            if self._replaced({**document, **day.to_doc()}):
                return
        raise ConcurrentUpdate(f"coverage day {update.key} changed {MAX_ATTEMPTS} times meanwhile")

    def _inserted(self, day: DayRecord) -> bool:
        """False when another writer created the day first (merge into theirs)."""
        try:
            self._database().collection(COLLECTION).insert({"_key": day.key, **day.to_doc()})
        except DocumentInsertError as error:
            if error.error_code == UNIQUE_CONSTRAINT:
                return False
            raise
        return True

    def _replaced(self, document: dict[str, Any]) -> bool:
        """False on a revision conflict (merge again into the newer document)."""
        try:
            self._database().collection(COLLECTION).replace(document, check_rev=True)
        except (DocumentRevisionError, DocumentReplaceError) as error:
            if error.error_code == CONFLICT:
                return False
            raise
        return True

    def _aql(self, query: str, binds: dict[str, Any]) -> list[Any]:
        cursor: Any = self._database().aql.execute(query, bind_vars=binds)
        return list(cursor)

    def _database(self) -> StandardDatabase:
        if self._db is None:
            raise StoreUnavailable("ArangoDB coverage store used before open()")
        return self._db

    async def _call(self, action: str, work: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, _guarded, action, work)


def _guarded(action: str, work: Callable[[], T]) -> T:
    with arango_errors(action):
        return work()
