"""The SQLite store becomes unwritable under a running service, then comes back.

How: a second SQLite connection opens the service's own database file and holds
`BEGIN EXCLUSIVE`. To the service that is a store gone read-only: reads still work (WAL
readers are not blocked) and every write waits out the busy timeout and fails. (A real
read-only mount is not usable here: remounting a bind mount read-only fails with EBUSY while
the service holds the file open for writing, and chmod does not stop root.)

Must hold: while locked, POST /queues/start answers 503 in the envelope within a bound and
records nothing, reads keep answering 200, readiness answers 503 naming the store; once the
lock is released, starts and readiness succeed again without a restart.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.fixtures.app import scripted
from tests.seed_examples import BASIC

HARMLESS = {t: scripted("exit", "0") for t in ("loader-producer", "arango-connector")}
BOUND_SECONDS = 5.0
"""The store's busy timeout is 2 s: a refused write must come back well within this."""


@contextmanager
def write_locked(path: Path) -> Iterator[None]:
    other = sqlite3.connect(path, timeout=5, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        yield
        other.execute("ROLLBACK")
    finally:
        other.close()


async def test_a_locked_store_answers_503_and_recovers_when_released(app_with: Any) -> None:
    async with app_with(targets=HARMLESS) as qm:
        before = await qm.start(BASIC)
        with write_locked(qm.state.settings.database_path):
            started = time.monotonic()
            refused = await qm.client.post("/queues/start", json=BASIC)
            elapsed = time.monotonic() - started
            assert refused.status_code == 503, refused.text
            body = refused.json()
            assert body["status"] == "error" and "SQLite" in body["message"], body
            assert elapsed < BOUND_SECONDS, f"503 after {elapsed:.1f} s"
            assert (await qm.client.get(f"/queues/{before}")).status_code == 200
            listed = await qm.client.get("/queues")
            assert listed.status_code == 200 and listed.headers["x-total-count"] == "1"
            started = time.monotonic()
            ready = await qm.client.get("/health/ready")
            assert ready.status_code == 503 and "store" in ready.json()["message"], ready.text
            assert time.monotonic() - started < BOUND_SECONDS
        assert (await qm.client.get("/health/ready")).status_code == 200
        after = await qm.start(BASIC)
        await qm.wait_for(after, lambda q: q["status"] == "finished")
        listed = await qm.client.get("/queues")
        assert listed.headers["x-total-count"] == "2", "the refused start recorded nothing"


async def test_readiness_names_the_store_in_words_without_a_local_path(app_with: Any) -> None:
    """/health/ready is open to anyone: it must not show where the database lives."""
    async with app_with(targets=HARMLESS) as qm:
        database = qm.state.settings.database_path
        with write_locked(database):
            ready = await qm.client.get("/health/ready")
            refused = await qm.client.post("/queues/start", json=BASIC)
        assert ready.status_code == 503 and "store" in ready.json()["message"], ready.text
        assert "database is locked" in refused.json()["message"], refused.text
        for answer in (ready, refused):
            assert str(database.parent) not in answer.text, answer.text
