"""A dependency that is down at start-up is handled as one that goes down later.

Must hold, on the real parts: with Kafka unreachable (a configured bootstrap on a closed
port) the service starts, answers /health/live 200 and /health/ready 503 naming the
broker, still records and launches a queue; once a broker listens on that port (an
embedded Tansu started there), readiness turns 200 by itself and the queue's jobs report
through Kafka to the end. With the store unreachable (an ArangoDB URL on a closed port)
the service starts, readiness and what needs the store answer 503 naming it, in words;
once ArangoDB answers there (the fake ArangoDB, driven by the real python-arango), the
store is opened, readiness turns 200 and queues run.
With the SQLite file locked at start-up and after a shutdown that could not write
(a store gone read-only, as a filling disk does), the service starts, and once the file
is writable again recovery settles the queues the shutdown left `loading`.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.bus.embedded import EmbeddedBroker, free_port
from tests.fakes.arango_http import FakeArango, serve
from tests.faults.test_crash_safety import Deployment, deployment  # noqa: F401 (fixture)
from tests.fixtures.app import scripted
from tests.fixtures.eventually import eventually
from tests.fixtures.service import service
from tests.seed_examples import BASIC

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]
DEMO = {
    "command": ["python", "-m", "app.workers", "demo-job"],
    "env": {"DEMO_JSON": json.dumps({"records": 50, "interval_ms": 20, "batch": 10})},
}
TERMINAL = {"finished", "stopped", "error"}


async def ready_answers(client: httpx.AsyncClient, status: int) -> dict[str, Any]:
    response = await eventually(
        lambda: client.get("/health/ready"),
        lambda answer: answer.status_code == status,
        within=45,
        what=f"/health/ready {status}",
    )
    return dict(response.json())


def reported_to_the_end(queue: dict[str, Any]) -> bool:
    """Ended, and every job's telemetry (through Kafka) was applied: all 50 records."""
    records = [job["records_written"] for job in queue["jobs"]]
    return queue["status"] in TERMINAL and records == [50, 50]


async def test_kafka_down_at_start_is_unready_then_connects_by_itself(
    app_with: Any, tmp_path: Path
) -> None:
    port = free_port()
    targets = {"loader-producer": DEMO, "arango-connector": DEMO}
    late = EmbeddedBroker(tmp_path / "late-broker.log", port=port)
    try:
        async with app_with(targets=targets, kafka_bootstrap_servers=f"127.0.0.1:{port}") as qm:
            assert (await qm.client.get("/health/live")).status_code == 200
            down = await ready_answers(qm.client, 503)
            assert "broker" in down["message"] and "Kafka" in down["data"]["broker"], down
            queue_id = await qm.start(BASIC)
            await late.start()
            up = await ready_answers(qm.client, 200)
            assert up["data"]["task:broker-connect"] == "ok", up
            done = await qm.wait_for(queue_id, reported_to_the_end, within=60)
            assert done["status"] == "finished", done
    finally:
        await late.stop()


async def test_arango_down_at_start_is_unready_then_connects_by_itself(
    app_with: Any, tmp_path: Path
) -> None:
    port = free_port()
    harmless = {t: scripted("exit", "0") for t in ("loader-producer", "arango-connector")}
    async with app_with(targets=harmless, arango_url=f"http://127.0.0.1:{port}") as qm:
        assert (await qm.client.get("/health/live")).status_code == 200
        assert (await qm.client.get("/health/startup")).status_code == 200
        down = await ready_answers(qm.client, 503)
        assert "store" in down["message"] and "ArangoDB" in down["data"]["store"], down
        assert str(tmp_path) not in json.dumps(down)
        for answer in (
            await qm.client.get("/queues"),
            await qm.client.post("/queues/start", json=BASIC),
        ):
            assert answer.status_code == 503, answer.text
            assert "ArangoDB" in answer.json()["message"]
        with serve(FakeArango(), port=port):  # ArangoDB comes up where it was expected
            up = await ready_answers(qm.client, 200)
            assert up["data"]["task:store-connect"] == "ok", up
            queue_id = await qm.start(BASIC)
            await qm.wait_for(queue_id, lambda q: q["status"] == "finished", within=30)


def lock_writes(database: Path) -> sqlite3.Connection:
    """Another connection holds the write lock: every write of the service fails, as on a
    full disk or a read-only mount (neither can be made here: see test_store_faults)."""
    other = sqlite3.connect(database, timeout=5, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    return other


def stored_status(database: Path, queue_id: str) -> str:
    with contextlib.closing(sqlite3.connect(database)) as db:
        row = db.execute("SELECT status FROM queues WHERE id = ?", (queue_id,)).fetchone()
    return str(row[0])


async def test_queues_left_loading_by_a_shutdown_that_could_not_write_are_settled(
    deployment: Deployment,  # noqa: F811 (fixture)
    tmp_path: Path,
) -> None:
    database = deployment.data_dir / "queue-manager.db"
    with deployment.serve() as first:
        async with httpx.AsyncClient(base_url=first.url, timeout=30) as client:
            queue_id = (await client.post("/queues/start", json=BASIC)).json()["data"]["queue_id"]
        locker = lock_writes(database)
        try:
            first.process.terminate()
            first.process.wait(60)
            assert stored_status(database, queue_id) not in TERMINAL, "the shutdown could write"
            with service(deployment.env, tmp_path / "restart.log", probe="live") as second:
                async with httpx.AsyncClient(base_url=second.url, timeout=30) as client:
                    down = await ready_answers(client, 503)
                    assert "store" in down["message"], down
                    assert str(deployment.data_dir) not in json.dumps(down), down
                    locker.execute("ROLLBACK")  # room on the disk again
                    await ready_answers(client, 200)
                    settled = await settled_queue(client, queue_id)
        finally:
            locker.close()
    assert settled["status"] == "error", settled
    assert all("process is gone" in job["error_message"] for job in settled["jobs"]), settled


async def settled_queue(client: httpx.AsyncClient, queue_id: str) -> dict[str, Any]:
    async def queue() -> dict[str, Any]:
        return dict((await client.get(f"/queues/{queue_id}")).json()["data"])

    return await eventually(queue, lambda q: q["status"] in TERMINAL, within=30, what="settled")
