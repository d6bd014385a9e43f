"""/ws/topic fan-out: rooms, text format, slow clients, and two replicas on one broker."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import orjson
from websockets.asyncio.client import connect

from app.bus.kafka import KafkaBus
from app.models.queues import QueueCreate
from tests.fixtures.app import scripted
from tests.fixtures.metrics import sample
from tests.fixtures.wsclient import listening
from tests.seed_examples import BASIC

SLOW = {"loader-producer": scripted("sleep", "60"), "arango-connector": scripted("sleep", "60")}


def report(queue_id: str, seq: int, stats_bytes: int = 0) -> bytes:
    return orjson.dumps(
        {
            "type": "telemetry",
            "queue_id": queue_id,
            "job": "job-a",
            "status": "loading",
            "records_written": seq,
            "seq": seq,
            "stats": {"pad": "x" * stats_bytes} if stats_bytes else None,
        }
    )


async def flood(settings: Any, messages: list[bytes], key: str) -> None:
    bus = KafkaBus(settings)
    await bus.start()
    try:
        await bus.send_many(settings.queue_control_topic, [(key, m) for m in messages])
        await bus.flush()
    finally:
        await bus.stop()


def tiny_socket(url: str) -> socket.socket:
    """A client socket with a tiny receive buffer: a peer that stops reading fills it fast."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.setblocking(False)
    return sock


async def test_rooms_follow_only_chosen_queues_and_subscribe_messages(served_with: Any) -> None:
    async with served_with(targets=SLOW) as served:
        await served.fanout_ready()
        async with listening(f"{served.ws_url}?queue_id=q-1") as ws:
            await flood(served.state.settings, [report("q-2", 1), report("q-1", 1)], "k")
            await ws.wait_for(lambda m: any(x.get("queue_id") == "q-1" for x in m))
            await ws.connection.send(orjson.dumps({"action": "subscribe", "queue_ids": ["q-2"]}))
            await ws.wait_for(lambda m: any(x.get("event") == "subscribed" for x in m))
            await flood(served.state.settings, [report("q-2", 2)], "k")
            await ws.wait_for(lambda m: any(x.get("queue_id") == "q-2" for x in m))
            assert [x["seq"] for x in ws.events("job.telemetry", "q-2")] == [2]
            await ws.connection.send(b'{"action": "dance"}')
            await ws.wait_for(lambda m: any(x.get("event") == "error" for x in m))


async def test_text_format_gives_the_seed_lines(served_with: Any) -> None:
    async with served_with(targets=SLOW) as served:
        await served.fanout_ready()
        async with connect(f"{served.ws_url}?format=text") as ws:
            assert await ws.recv() == "✅ WebSocket connected"
            queue = await served.state.queues.start(QueueCreate.model_validate(BASIC))
            line = await asyncio.wait_for(ws.recv(), 10)
            assert line == f"📡 Queue {queue.id} → pending (0 records)"


async def test_a_slow_client_does_not_delay_a_fast_one(served_with: Any) -> None:
    """Events, not timing: the slow client never reads and takes its frames uncompressed,
    so its socket and transport buffers fill and its pump blocks; the fast one (compressed
    frames, reading) must still get every update, in order, while the slow one is conflated."""
    async with served_with(targets=SLOW, ws_client_queue_size=400) as served:
        await served.fanout_ready()
        async with (
            connect(
                served.ws_url, max_queue=1, sock=tiny_socket(served.url), compression=None
            ) as slow,
            listening(served.ws_url) as fast,
        ):
            assert slow is not None
            count = 3000  # 12 MB uncompressed: more than any buffer on the slow one's way
            await flood(
                served.state.settings,
                [report("q-flood", s, stats_bytes=4000) for s in range(1, count + 1)],
                "q",
            )
            await fast.wait_for(lambda m: any(x.get("seq") == count for x in m), within=60)
            seqs = [x["seq"] for x in fast.events("job.telemetry", "q-flood")]
            assert seqs == list(range(1, count + 1)), "the fast client saw every update"
            conflated = sample(
                served.state.metrics, "websocket_events_dropped_total", reason="conflated"
            )
            assert conflated > 0, "whoever fell behind got the latest telemetry, not every update"


async def test_two_replicas_each_deliver_every_event(served_with: Any, tmp_path: Any) -> None:
    async with (
        served_with(targets=SLOW) as first,
        served_with(targets=SLOW, data_dir=tmp_path / "second") as second,
    ):
        await first.fanout_ready()
        await second.fanout_ready()
        async with listening(first.ws_url) as one, listening(second.ws_url) as two:
            queue = await first.state.queues.start(QueueCreate.model_validate(BASIC))
            await flood(first.state.settings, [report(queue.id, 1)], queue.id)
            for ws in (one, two):
                await ws.wait_for(
                    lambda m: (
                        any(x.get("event") == "job.telemetry" for x in m)
                        and any(x.get("event") == "queue.pending" for x in m)
                    )
                )
