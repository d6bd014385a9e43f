"""Poison messages on queue-control, on the real broker and SQLite: a message that cannot
be handled, for any reason, is dead-lettered with the reason, counted and skipped; the
dispatcher goes on with the next message and is never restarted for it.

Must hold: (a) issue 12's start command whose dates cannot give names (9999-12-31) is
refused as `invalid` naming `time_range`, and the same body on REST is 422, not 500;
(b) a message whose handling raises something that is not one of our errors (here: the
stored document of its queue is corrupt) is set aside as `unprocessable` with the error,
while the other queues of the same poll get their telemetry.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from app.bus.kafka import KafkaBus
from app.config import Settings
from app.models.queues import QueueState
from tests.fixtures.app import Running, scripted
from tests.fixtures.eventually import eventually
from tests.fixtures.kafka_reader import Received, read_topic
from tests.seed_examples import BASIC

pytestmark = pytest.mark.timeout(90)
SLOW = {"loader-producer": scripted("sleep", "60"), "arango-connector": scripted("sleep", "60")}
POISON = {
    "type": "command",
    "command": "start",
    "command_id": "p1",
    "payload": {"symbol": "BTCUSDT", "type": "api", "time_range": "9999-12-30:9999-12-31"},
}


def report(queue: QueueState, seq: int, records: int) -> dict[str, Any]:
    return {
        "type": "telemetry",
        "queue_id": queue.id,
        "job": queue.jobs[0].name,
        "status": "loading",
        "records_written": records,
        "seq": seq,
    }


async def send(settings: Settings, *messages: dict[str, Any]) -> None:
    """Produce to queue-control as a job or another service would, in one batch."""
    bus = KafkaBus(settings)
    await bus.start()
    try:
        batch = [(str(m.get("queue_id", "command")), orjson.dumps(m)) for m in messages]
        assert not await bus.send_many(settings.queue_control_topic, batch)
    finally:
        await bus.stop()


async def ready_queue(qm: Running) -> QueueState:
    dispatcher = qm.state.plane.dispatcher
    await asyncio.wait_for(dispatcher.assigned.wait(), 30)
    return await qm.state.queues.get(await qm.start(BASIC))


async def stored(qm: Running, queue_id: str, predicate: Callable[[QueueState], bool]) -> QueueState:
    return await eventually(
        lambda: qm.state.queues.get(queue_id), predicate, within=30, what="stored telemetry"
    )


async def dead_letters(settings: Settings, count: int) -> list[Received]:
    return await read_topic(
        settings.kafka_bootstrap_servers or "",
        settings.queue_control_dlq_topic,
        until=lambda m: len(m) >= count,
        within=20,
    )


def counted(qm: Running, name: str, labels: dict[str, str]) -> float:
    return qm.state.metrics.registry.get_sample_value(name, labels) or 0.0


async def test_the_start_command_with_unusable_dates_is_set_aside_not_fatal(app_with: Any) -> None:
    async with app_with(targets=SLOW) as qm:
        queue = await ready_queue(qm)
        await send(qm.state.settings, POISON, report(queue, 1, records=7))
        await stored(qm, queue.id, lambda q: q.records_written == 7)
        [dead] = await dead_letters(qm.state.settings, 1)
        assert dead.value == POISON and dead.headers["dlq-reason"] == b"invalid"
        assert b"time_range" in dead.headers["dlq-detail"], dead.headers
        assert counted(qm, "dead_lettered_total", {"reason": "invalid"}) == 1
        assert qm.state.supervisor.restarts("dispatcher") == 0
        assert (await qm.client.get("/health/ready")).status_code == 200
        refused = await qm.client.post("/queues/start", json=POISON["payload"])
        assert refused.status_code == 422, refused.text
        assert [p["field"] for p in refused.json()["data"]] == ["time_range"]


def corrupt(database: str, queue_id: str) -> None:
    """The stored document of one queue no longer parses (a damaged file, a bad migration)."""
    with contextlib.closing(sqlite3.connect(database, isolation_level=None)) as db:
        db.execute("UPDATE queues SET doc = ? WHERE id = ?", (b'{"broken": true}', queue_id))


async def test_a_message_whose_handling_fails_is_set_aside_as_unprocessable(
    app_with: Any,
) -> None:
    async with app_with(targets=SLOW) as qm:
        broken, healthy = await ready_queue(qm), await ready_queue(qm)
        corrupt(str(qm.state.settings.database_path), broken.id)
        stop = {"type": "command", "command": "stop", "command_id": "s1", "queue_id": broken.id}
        await send(qm.state.settings, report(broken, 1, 5), stop, report(healthy, 1, 9))
        await stored(qm, healthy.id, lambda q: q.records_written == 9)
        dead = await dead_letters(qm.state.settings, 2)
        assert {d.headers["dlq-reason"] for d in dead} == {b"unprocessable"}
        assert {d.value.get("type") for d in dead} == {"telemetry", "command"}
        assert all(b"ValidationError" in d.headers["dlq-detail"] for d in dead), dead
        assert counted(qm, "dead_lettered_total", {"reason": "unprocessable"}) == 2
        assert counted(qm, "commands_total", {"command": "stop", "result": "dead_lettered"}) == 1
        await send(qm.state.settings, report(healthy, 2, 12))
        await stored(qm, healthy.id, lambda q: q.records_written == 12)
        assert qm.state.supervisor.restarts("dispatcher") == 0
