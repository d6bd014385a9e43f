"""The SQLite list queries are served by indexes, as docs/architecture.md says: the symbol
filter through `queue_symbols`' primary key, the status filter through its index."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from app.models.queries import QueueFilter
from app.models.status import Status
from app.store.sqlite import SqliteQueueStore, _where


async def plan_of(path: Path, query: QueueFilter) -> str:
    store = SqliteQueueStore(path)
    await store.open()
    await store.close()
    where, params = _where(query)
    with sqlite3.connect(path) as db:
        rows = db.execute(f"EXPLAIN QUERY PLAN SELECT doc FROM queues {where}", params)
        return "\n".join(str(row[3]) for row in rows)


async def test_the_symbol_filter_searches_the_queue_symbols_key(tmp_path: Path) -> None:
    plan = await plan_of(tmp_path / "q.db", QueueFilter(symbol="BTCUSDT"))
    assert "SEARCH queue_symbols USING COVERING INDEX" in plan, plan
    assert "SCAN" not in plan, plan


async def test_the_status_filter_searches_its_index(tmp_path: Path) -> None:
    plan = await plan_of(tmp_path / "q.db", QueueFilter(status=Status.LOADING))
    assert "SEARCH queues USING INDEX queues_by_status" in plan, plan
