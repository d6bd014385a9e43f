"""The processes around the fan-out measurement, each its own (like the service): the bare
broadcaster and the raw consumer (the baselines), and the WebSocket clients.

- bare broadcaster: one aiokafka consumer (group-less, from `latest`, the fan-out's fetch
  settings) that sends every record as it is, one binary frame, to each connected client
  whose `?queue_id=` is the record's key, and to every client that named none. The key
  lookup is the least routing that gives each client the same messages as the service
  does (sending all 10,000 msg/s to each of 1,000 clients would measure nothing useful);
  no rooms, no decoding, no re-encoding.
- raw consumer: the same consumer, recording produce-to-consume latency per record.
- clients: a share of the followers per process, each recording (sent, arrival) of every
  message with `stats.sent` and the count of updates a `missed` notice announced.
Clients of the service and of the bare broadcaster are the same code in the same number
of processes.
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections import defaultdict
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from aiokafka import AIOKafkaConsumer
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, broadcast, serve

from app.control.consuming import FETCH_MAX_WAIT_MS, FETCH_MIN_BYTES
from app.control.fanout import MAX_POLL_RECORDS as FANOUT_POLL_RECORDS

CONNECT_WAVE = 50
"""Clients connect in waves: the handshakes share the cores with everything else."""


def raise_open_files_limit() -> int:
    """10,000 sockets need more than the usual 1,024 descriptors; children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def consumer(bootstrap: str, topic: str) -> AIOKafkaConsumer:
    """The fan-out's consumer settings (app/control/fanout.py)."""
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="latest",
        enable_auto_commit=False,
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        fetch_min_bytes=FETCH_MIN_BYTES,
    )


# --- bare broadcaster ----------------------------------------------------------------------
def bare_broadcaster(bootstrap: str, topic: str, port: int, ready: Any) -> None:
    """Child process: serve WebSockets on `port` and broadcast every record as it is."""
    asyncio.run(_broadcast_forever(bootstrap, topic, port, ready))


async def _broadcast_forever(bootstrap: str, topic: str, port: int, ready: Any) -> None:
    followers: dict[bytes | None, set[ServerConnection]] = defaultdict(set)

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        named = parse_qs(urlsplit(ws.request.path).query).get("queue_id")
        key = named[0].encode() if named else None
        followers[key].add(ws)
        try:
            await ws.send('{"event": "hello"}')
            await ws.wait_closed()
        finally:
            followers[key].discard(ws)

    source = consumer(bootstrap, topic)
    await source.start()
    async with serve(handler, "127.0.0.1", port, ping_interval=None, max_size=None):
        ready.set()
        while True:
            batches = await source.getmany(timeout_ms=200, max_records=FANOUT_POLL_RECORDS)
            everyone = followers[None]
            for records in batches.values():
                for record in records:
                    broadcast(everyone, record.value)
                    room = followers.get(record.key)
                    if room:
                        broadcast(room, record.value)


# --- raw consumer --------------------------------------------------------------------------
def raw_consumer(bootstrap: str, topic: str, control: Connection) -> None:
    """Child process: record (sent, consumed) per record; hand them over on "take"."""
    asyncio.run(_consume_forever(bootstrap, topic, control))


async def _consume_forever(bootstrap: str, topic: str, control: Connection) -> None:
    source = consumer(bootstrap, topic)
    await source.start()
    arrivals: list[tuple[float, float]] = []
    while True:
        batches = await source.getmany(timeout_ms=200, max_records=FANOUT_POLL_RECORDS)
        now = time.time()
        for records in batches.values():
            arrivals.extend((_sent(record.value), now) for record in records)
        while control.poll():
            control.recv()
            control.send(arrivals)
            arrivals = []


def _sent(raw: bytes | None) -> float:
    try:
        stats = orjson.loads(raw or b"{}").get("stats") or {}
        return float(stats.get("sent", 0.0))
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
        return 0.0


# --- clients -------------------------------------------------------------------------------
@dataclass
class Follower:
    """One WebSocket client: what arrived (sent, arrival) and what was announced missed."""

    queue_id: str | None
    arrivals: list[tuple[float, float]] = field(default_factory=list)
    missed: int = 0
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    async def follow(self, port: int) -> None:
        path = f"/ws/topic?queue_id={self.queue_id}" if self.queue_id else "/ws/topic"
        async with connect(
            f"ws://127.0.0.1:{port}{path}", ping_interval=None, max_size=None, open_timeout=120
        ) as ws:
            await ws.recv()  # hello
            self.connected.set()
            async for raw in ws:
                self.seen(orjson.loads(raw), time.time())

    def seen(self, message: dict[str, Any], now: float) -> None:
        stats = message.get("stats")
        if stats is not None:
            self.arrivals.append((stats["sent"], now))
        elif message.get("event") == "missed":
            self.missed += message["count"]


def clients(port: int, queue_ids: list[str | None], control: Connection) -> None:
    """Child process: connect followers of these queues, say "connected"; answer "count"
    with the messages received so far; on "take" hand over each one's (queue_id,
    arrivals, missed) and exit."""
    asyncio.run(_clients(port, queue_ids, control))


async def _clients(port: int, queue_ids: list[str | None], control: Connection) -> None:
    followers = [Follower(queue_id) for queue_id in queue_ids]
    tasks = []
    try:
        for wave in range(0, len(followers), CONNECT_WAVE):
            batch = followers[wave : wave + CONNECT_WAVE]
            tasks += [asyncio.create_task(f.follow(port)) for f in batch]
            await asyncio.wait_for(asyncio.gather(*(f.connected.wait() for f in batch)), 120)
        control.send("connected")
        while await asyncio.to_thread(control.recv) == "count":
            control.send(sum(len(f.arrivals) for f in followers))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    control.send([(f.queue_id, f.arrivals, f.missed) for f in followers])
