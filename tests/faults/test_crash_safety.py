"""Crash safety: the real service SIGKILLed mid-work, restarted on the same DATA_DIR.

Must hold: (a) killed while many POST /queues/start are in flight, no job process outlives
the service, and the restarted service leaves no job running twice (never two live
processes for one job name), loses no queue it acknowledged, and leaves no queue stuck:
every queue ends terminal, or runs with a live process for each of its running jobs;
(b) killed while its dispatcher works through a flood of telemetry, the restarted service
shows every queue's final telemetry (nothing lost), and redelivered reports (the kill's
own, plus everything applied before it, sent once more) had no second effect:
records_written is the final value, not a sum, and seq is the last one.
The broker is the session's, outside the service, so it survives the kill.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from app.bus.kafka import KafkaBus
from app.config import Settings
from tests.fixtures.app import scripted
from tests.fixtures.eventually import eventually
from tests.fixtures.service import ServiceProcess, own_env, service
from tests.seed_examples import BASIC

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
SLOW = {"loader-producer": scripted("sleep", "120"), "arango-connector": scripted("sleep", "120")}
TERMINAL = {"finished", "stopped", "error"}
STARTS = 60
FLOOD_QUEUES, FLOOD_SEQ, FLOOD_CHUNK = 6, 3000, 250


@dataclass(frozen=True)
class Deployment:
    """`queue-manager serve` on the session broker with this test's own topics and
    DATA_DIR, the same on every `serve()`: a second call is a restart."""

    env: dict[str, str]
    root: Path

    @property
    def data_dir(self) -> Path:
        return Path(self.env["DATA_DIR"])

    @property
    def control_topic(self) -> str:
        return self.env["QUEUE_CONTROL_TOPIC"]

    def serve(self) -> AbstractContextManager[ServiceProcess]:
        return service(self.env, self.root / "service.log")


@pytest.fixture
def deployment(tmp_path: Path, broker: Any) -> Deployment:
    return Deployment(own_env(tmp_path, broker.bootstrap, SLOW), tmp_path)


def live_jobs(data_dir: Path) -> Counter[str]:
    """JOB_NAME of every live process started for this DATA_DIR (read from /proc)."""
    names: Counter[str] = Counter()
    marker = f"DATA_DIR={data_dir}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        job = next((v for v in environ if v.startswith(b"JOB_NAME=")), None)
        if marker in environ and job is not None and state != "Z":
            names[job.removeprefix(b"JOB_NAME=").decode()] += 1
    return names


async def all_queues(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get("/queues", params={"limit": 500})
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


async def test_kill_during_concurrent_starts_leaves_no_duplicate_and_no_stuck_queue(
    deployment: Deployment,
) -> None:
    """(a) SIGKILL while STARTS concurrent starts are in flight, then a restart. Starts
    answer together after the scheduler's pass that launches their jobs, so the kill
    comes when the first job process of that pass exists."""
    acknowledged: list[str] = []
    with deployment.serve() as first:
        async with httpx.AsyncClient(base_url=first.url, timeout=30) as client:
            starts = [
                asyncio.create_task(client.post("/queues/start", json=BASIC)) for _ in range(STARTS)
            ]
            await eventually(
                lambda: live_jobs(deployment.data_dir),
                bool,
                within=30,
                every=0.01,
                what="the first job launched",
            )
            first.kill()
            results = await asyncio.gather(*starts, return_exceptions=True)
    await eventually(  # none is orphaned, not even one forked the instant before the kill
        lambda: live_jobs(deployment.data_dir),
        lambda live: not live,
        within=10,
        what="every job process gone with the killed service",
    )
    for result in results:
        if isinstance(result, httpx.Response):
            assert result.status_code == 200, result.text
            acknowledged.append(result.json()["data"]["queue_id"])
    assert len(acknowledged) < STARTS, "the kill did not land in the middle of the starts"
    with deployment.serve() as second:
        async with httpx.AsyncClient(base_url=second.url, timeout=30) as client:
            queues = await settled(client, deployment.data_dir)
    assert queues, "the queues recorded before the kill are kept"
    assert set(acknowledged) <= {q["id"] for q in queues}, "an acknowledged queue was lost"


async def settled(client: httpx.AsyncClient, data_dir: Path) -> list[dict[str, Any]]:
    """Wait (bounded) until every queue is terminal or running with live jobs, then check
    that no job name has two live processes."""

    async def observe() -> tuple[list[dict[str, Any]], Counter[str]]:
        queues, live = await all_queues(client), live_jobs(data_dir)
        assert all(count == 1 for count in live.values()), f"duplicate jobs: {live}"
        return queues, live

    queues, live = await eventually(
        observe,
        lambda seen: all(_settled(queue, seen[1]) for queue in seen[0]),
        within=60,
        every=0.1,
        what="every queue settled",
    )
    running = [q for q in queues if q["status"] not in TERMINAL]
    assert {j["name"] for q in running for j in q["jobs"] if j["status"] not in TERMINAL} <= set(
        live
    )
    return queues


def applied_beyond(seq: int) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda queues: any(queue["jobs"][0]["seq"] > seq for queue in queues)


def _settled(queue: dict[str, Any], live: Counter[str]) -> bool:
    if queue["status"] in TERMINAL:
        return True
    open_jobs = [job for job in queue["jobs"] if job["status"] not in TERMINAL]
    return bool(open_jobs) and all(
        job["status"] in ("starting", "loading") and live[job["name"]] == 1 for job in open_jobs
    )


def report(queue: dict[str, Any], seq: int) -> tuple[str, bytes]:
    final = seq == FLOOD_SEQ
    return queue["id"], orjson.dumps(
        {
            "type": "telemetry",
            "queue_id": queue["id"],
            "job": queue["jobs"][0]["name"],
            "status": "finished" if final else "loading",
            "records_written": seq,
            "seq": seq,
            "last_loaded_timestamp": f"2024-01-01T00:00:00.{seq:06d}Z",
        }
    )


async def flood(
    bootstrap: str, topic: str, queues: list[dict[str, Any]], live: asyncio.Event
) -> None:
    """Every queue's reports seq 1..FLOOD_SEQ (the last one final), interleaved, in chunks:
    the first at once, the rest paced once the dispatcher is seen applying, so the kill
    lands mid-flood however many records the dispatcher takes per poll."""
    bus = KafkaBus(Settings(_env_file=None, kafka_bootstrap_servers=bootstrap))
    await bus.start()
    try:
        for first in range(1, FLOOD_SEQ + 1, FLOOD_CHUNK):
            chunk = [
                report(q, s)
                for s in range(first, min(first + FLOOD_CHUNK, FLOOD_SEQ + 1))
                for q in queues
            ]
            assert not await bus.send_many(topic, chunk)
            await live.wait()
            await asyncio.sleep(0.1)  # a steady flood, not one burst
    finally:
        await bus.stop()


def stored_seqs(database: Path) -> dict[str, int]:
    """Each queue's applied loader seq, read from the file the killed service left."""
    with contextlib.closing(sqlite3.connect(database)) as db:
        rows = db.execute("SELECT id, doc FROM queues").fetchall()
    return {queue_id: orjson.loads(doc)["jobs"][0]["seq"] for queue_id, doc in rows}


async def redeliver(
    bootstrap: str, topic: str, queues: list[dict[str, Any]], applied: dict[str, int]
) -> None:
    """Everything applied before the crash, once more: at-least-once delivery at its worst
    (the redelivery the kill caused itself depends on where in a batch it landed)."""
    bus = KafkaBus(Settings(_env_file=None, kafka_bootstrap_servers=bootstrap))
    await bus.start()
    try:
        again = [report(q, s) for q in queues for s in range(1, applied[q["id"]] + 1)]
        assert not await bus.send_many(topic, again)
    finally:
        await bus.stop()


async def test_kill_of_the_dispatcher_mid_flood_loses_no_telemetry_and_applies_it_once(
    deployment: Deployment,
    broker: Any,
) -> None:
    """(b) SIGKILL while the dispatcher works through a telemetry flood, then a restart."""
    with deployment.serve() as first:
        async with httpx.AsyncClient(base_url=first.url, timeout=30) as client:
            ids = [
                (await client.post("/queues/start", json=BASIC)).json()["data"]["queue_id"]
                for _ in range(FLOOD_QUEUES)
            ]
            queues = [(await client.get(f"/queues/{i}")).json()["data"] for i in ids]
            live = asyncio.Event()
            sending = asyncio.create_task(
                flood(broker.bootstrap, deployment.control_topic, queues, live)
            )
            for applied_past in (0, FLOOD_CHUNK):  # the first chunk, then the second
                await eventually(
                    lambda: all_queues(client),
                    applied_beyond(applied_past),
                    within=60,
                    every=0.02,
                    what=f"telemetry past seq {applied_past} applied",
                )
                live.set()
            first.kill()
    assert not sending.done(), "killed after the flood was done"
    await asyncio.wait_for(sending, 60)
    applied = stored_seqs(deployment.data_dir / "queue-manager.db")
    assert any(0 < seq < FLOOD_SEQ for seq in applied.values()), applied
    await redeliver(broker.bootstrap, deployment.control_topic, queues, applied)
    with deployment.serve() as second:
        async with httpx.AsyncClient(base_url=second.url, timeout=30) as client:
            final = await eventually(
                lambda: all_queues(client),
                lambda queues: all(q["jobs"][0]["seq"] == FLOOD_SEQ for q in queues),
                within=60,
                every=0.1,
                what="the whole flood applied",
            )
    for queue in final:
        loader = queue["jobs"][0]
        assert (loader["records_written"], queue["records_written"]) == (FLOOD_SEQ, FLOOD_SEQ)
        assert loader["last_loaded_timestamp"] == f"2024-01-01T00:00:00.{FLOOD_SEQ:06d}Z"
        assert queue["jobs"][1]["seq"] == -1, "telemetry landed on the wrong job"
