"""The control plane on the real embedded broker: telemetry, commands, dead letters, events."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from app.bus.kafka import KafkaBus
from app.models.queries import QueueFilter
from app.models.queues import QueueCreate, QueueState
from tests.fixtures.app import Served, scripted
from tests.fixtures.eventually import eventually
from tests.fixtures.kafka_reader import read_topic
from tests.fixtures.metrics import sample
from tests.fixtures.wsclient import listening
from tests.seed_examples import BASIC

SLOW = {"loader-producer": scripted("sleep", "30"), "arango-connector": scripted("sleep", "30")}


def telemetry(
    queue: QueueState, seq: int, status: str = "loading", records: int = 0, job: int = 0
) -> dict[str, Any]:
    return {
        "type": "telemetry",
        "queue_id": queue.id,
        "job": queue.jobs[job].name,
        "status": status,
        "records_written": records,
        "seq": seq,
        "last_loaded_timestamp": f"2024-01-01T00:00:{seq:02d}Z",
    }


async def send(served: Served, *messages: dict[str, Any] | bytes) -> None:
    """Produce to queue-control as another service or a job would."""
    bus = KafkaBus(served.state.settings)
    await bus.start()
    try:
        for message in messages:
            if isinstance(message, bytes):
                await bus.send(served.state.settings.queue_control_topic, None, message)
            else:
                key = str(message.get("queue_id", "command"))
                await bus.send(
                    served.state.settings.queue_control_topic, key, orjson.dumps(message)
                )
    finally:
        await bus.stop()


async def until_stored(
    served: Served, queue_id: str, predicate: Callable[[QueueState], bool], within: float = 20
) -> QueueState:
    return await eventually(
        lambda: served.state.queues.get(queue_id), predicate, within=within, what=queue_id
    )


async def start_queue(served: Served) -> QueueState:
    return await served.state.queues.start(QueueCreate.model_validate(BASIC))


async def test_telemetry_updates_store_and_reaches_websocket_clients(served_with: Any) -> None:
    async with served_with(targets=SLOW) as served:
        await served.fanout_ready()
        queue = await start_queue(served)
        async with listening(served.ws_url) as ws:
            await send(served, telemetry(queue, 1, records=42))
            await ws.wait_for(lambda m: any(x.get("event") == "job.telemetry" for x in m))
            loaded = await until_stored(served, queue.id, lambda q: q.records_written == 42)
            assert loaded.jobs[0].status == "loading" and loaded.jobs[0].seq == 1
            event = ws.events("job.telemetry", queue.id)[0]
            assert (event["records_written"], event["seq"]) == (42, 1)


async def test_duplicate_out_of_order_and_late_telemetry_change_nothing(served_with: Any) -> None:
    async with served_with(targets=SLOW) as served:
        queue = await start_queue(served)
        await send(served, telemetry(queue, 5, records=50))
        await until_stored(served, queue.id, lambda q: q.jobs[0].seq == 5)
        await send(
            served,
            telemetry(queue, 5, records=99),
            telemetry(queue, 3, records=30),
            telemetry(queue, 6, status="finished", records=60),
            telemetry(queue, 7, status="loading", records=70),
            telemetry(queue, 1, job=1),
        )  # a marker: everything before it was seen
        await until_stored(served, queue.id, lambda q: q.jobs[1].seq == 1)
        job = (await served.state.queues.get(queue.id)).jobs[0]
        assert (job.status, job.records_written, job.seq) == ("finished", 60, 6)


async def test_start_command_twice_makes_one_queue(served_with: Any) -> None:
    async with served_with(targets=SLOW) as served:
        command = {
            "type": "command",
            "command": "start",
            "command_id": str(uuid.uuid4()),
            "payload": BASIC,
        }
        await send(served, command, command)
        await eventually(
            lambda: sample(served.state.metrics, "commands_total", command="start", result="ok"),
            lambda handled: handled >= 2,
            within=20,
            what="two start commands handled",
        )
        page = await served.state.queues.page(QueueFilter())
        assert page.total == 1 and page.items[0].command_id == command["command_id"]


async def test_poison_message_goes_to_dead_letter_and_next_is_processed(served_with: Any) -> None:
    async with served_with(targets=SLOW) as served:
        queue = await start_queue(served)
        await send(
            served,
            b"{not json",
            {"type": "telemetry", "queue_id": queue.id},
            telemetry(queue, 1, records=7),
        )
        await until_stored(served, queue.id, lambda q: q.records_written == 7)
        settings = served.state.settings
        dead = await read_topic(
            settings.kafka_bootstrap_servers or "",
            settings.queue_control_dlq_topic,
            until=lambda m: len(m) >= 2,
        )
        assert dead[0].value == b"{not json" and dead[1].value["queue_id"] == queue.id
        async with httpx.AsyncClient(base_url=served.url) as client:
            text = (await client.get("/metrics")).text
        assert 'dead_lettered_total{reason="not_json"} 1.0' in text
        assert 'dead_lettered_total{reason="invalid"} 1.0' in text


async def test_stop_publishes_a_stop_command_and_one_event_per_status(served_with: Any) -> None:
    async with served_with(targets=SLOW) as served:
        queue = await start_queue(served)
        await served.state.queues.stop(queue.id)
        await until_stored(served, queue.id, lambda q: q.status == "stopped")
        bootstrap = served.state.settings.kafka_bootstrap_servers or ""
        control = await read_topic(
            bootstrap,
            served.state.settings.queue_control_topic,
            until=lambda m: any(x.value.get("command") == "stop" for x in m),
        )
        assert [m.key for m in control if m.value.get("command") == "stop"] == [queue.id]
        events = await read_topic(
            bootstrap,
            served.state.settings.queue_events_topic,
            until=lambda m: any(x.value["event"] == "queue.stopped" for x in m),
        )
        lifecycle = [m.value["event"] for m in events if m.value["event"] != "queue.updated"]
        assert lifecycle == ["queue.pending", "queue.starting", "queue.stopping", "queue.stopped"]
