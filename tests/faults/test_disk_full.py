"""A start's answer matches what happened when the store cannot write (issue 12, item 6):
either nothing was created and nothing launched (503), or the start succeeded (200).

The store is the real SQLite file. A full disk is SQLite's own SQLITE_FULL, produced with
`PRAGMA max_page_count` on the service's writer connection (the page limit a full disk
imposes, without filling one). After the launch the write that records it rewrites rows
in place, which allocates no page, so there the real store is made to refuse writes with
`PRAGMA query_only`: the same StoreUnavailable reaches the service.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from app.store.sqlite import SqliteQueueStore
from tests.fixtures.app import Running, scripted
from tests.fixtures.eventually import eventually
from tests.fixtures.kube import JOBS, KubeEmulator
from tests.integration.test_cluster_mode import kubeconfig  # noqa: F401 (a fixture)
from tests.seed_examples import BASIC

pytestmark = pytest.mark.timeout(60)
SLOW = {"loader-producer": scripted("sleep", "30"), "arango-connector": scripted("sleep", "30")}
MANY_SYMBOLS = {**BASIC, "symbols": [f"S{n}USDT" for n in range(600)]}  # a multi-page row


async def on_writer(qm: Running, pragma: str) -> Any:
    """Run a PRAGMA on the store's only writing connection, in its thread (pragmas are per
    connection; outside a transaction, which query_only would refuse to begin)."""
    store = qm.state.queues.store
    assert isinstance(store, SqliteQueueStore)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        store._writer_pool, store._guarded, lambda db: db.execute(pragma).fetchone()
    )


async def test_a_full_disk_at_creation_is_503_and_nothing_is_created_or_launched(
    app_with: Any,
) -> None:
    async with app_with(targets=SLOW) as qm:
        (pages,) = await on_writer(qm, "PRAGMA page_count")
        assert (await on_writer(qm, "PRAGMA freelist_count"))[0] == 0
        await on_writer(qm, f"PRAGMA max_page_count = {pages}")
        response = await qm.client.post("/queues/start", json=MANY_SYMBOLS)
        assert response.status_code == 503, response.text
        assert "database or disk is full" in response.json()["message"]
        assert (await qm.client.get("/queues")).headers["X-Total-Count"] == "0"
        assert not list(qm.state.settings.jobs_dir.rglob("*.log")), "a job was launched"


async def test_a_store_refusing_the_launch_record_still_answers_started(
    app_with: Any,
    kube: KubeEmulator,
    kubeconfig: Path,  # noqa: F811
) -> None:
    """The jobs run (their Kubernetes Jobs exist), so the start succeeded: 200, and the
    launches are recorded once the store takes writes again."""
    cluster = {"job_launcher": "kubernetes", "k8s_namespace": kube.namespace}
    async with app_with(kubeconfig=kubeconfig, **cluster) as qm:

        async def store_refuses_writes() -> None:
            await on_writer(qm, "PRAGMA query_only = 1")

        kube.server["post", JOBS] << store_refuses_writes  # then the emulator creates the Job
        response = await qm.client.post("/queues/start", json=BASIC)
        assert response.status_code == 200, response.text
        assert response.json()["data"]["status"] == "starting"
        queue_id = response.json()["data"]["queue_id"]
        assert len(kube.job_names()) == 2
        stored = await qm.queue(queue_id)
        assert [job["status"] for job in stored["jobs"]] == ["pending", "pending"]
        await on_writer(qm, "PRAGMA query_only = 0")
        recorded = await eventually(
            lambda: qm.queue(queue_id),
            lambda q: all(job["status"] == "starting" for job in q["jobs"]),
            what="the launches recorded",
        )
        assert sorted(job["name"] for job in recorded["jobs"]) == kube.job_names()
        assert all(job["launcher_ref"] for job in recorded["jobs"])


def test_the_page_limit_is_sqlites_own_disk_full(tmp_path: Path) -> None:
    """What the first test relies on: past max_page_count SQLite answers SQLITE_FULL, the
    error a full disk gives."""
    db = sqlite3.connect(tmp_path / "t.db")
    db.execute("CREATE TABLE t(x)")
    (pages,) = db.execute("PRAGMA page_count").fetchone()
    db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(sqlite3.OperationalError) as full:
        db.execute("INSERT INTO t VALUES (zeroblob(100000))")
    assert full.value.sqlite_errorname == "SQLITE_FULL"
    db.close()
