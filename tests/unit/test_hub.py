"""The hub's promises: conflation only when behind, a missed notice, slow clients let go.

No sleeps: the peer says when a send is blocked and when messages arrived, and a client
joins the hub before its pump runs, so nothing depends on how the loop schedules tasks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import orjson

from app.control.hub import Client, Hub, HubMessage
from app.ws_frames import SharedFrames
from tests.unit.test_ws_frames import text

WITHIN = 2.0


def telemetry(seq: int, queue_id: str = "q") -> HubMessage:
    return HubMessage(queue_id, orjson.dumps({"seq": seq}).decode(), f"seq {seq}", f"t:{queue_id}")


def lifecycle(n: int) -> HubMessage:
    return HubMessage("q", orjson.dumps({"event": f"e{n}"}).decode(), f"e{n}")


class Peer:
    """The far end of a WebSocket: records what arrives; may stop reading entirely."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.reading = asyncio.Event()
        self.reading.set()
        self.blocked = asyncio.Event()
        """Set once a send waits on a peer that stopped reading."""
        self._arrived = asyncio.Condition()

    async def send(self, text: str) -> None:
        if not self.reading.is_set():
            self.blocked.set()
        await self.reading.wait()
        async with self._arrived:
            self.received.append(text)
            self._arrived.notify_all()

    def send_now(self, frames: SharedFrames) -> bool:
        """The server's synchronous write: takes the frame only while the peer reads."""
        if not self.reading.is_set():
            return False
        self.received.append(text(frames.frame(None)))
        return True

    async def until(self, condition: Callable[[list[str]], bool]) -> list[str]:
        """Wait until what arrived satisfies `condition`."""
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: condition(self.received)), WITHIN)
        return self.received

    async def until_count(self, count: int) -> list[str]:
        return await self.until(lambda received: len(received) >= count)


def pump(hub: Hub, client: Client) -> asyncio.Task[None]:
    """Join the client now, then pump it in a task."""
    hub.join(client)
    return asyncio.create_task(hub.serve(client))


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def seqs(received: list[str]) -> list[int]:
    return [orjson.loads(text)["seq"] for text in received]


async def test_a_client_that_keeps_up_sees_every_update() -> None:
    hub, peer = Hub(), Peer()
    task = pump(hub, Client(peer.send, limit=10))
    for seq in range(5):
        hub.publish(telemetry(seq))
    assert seqs(await peer.until_count(5)) == [0, 1, 2, 3, 4]
    await stop(task)


async def test_a_client_behind_gets_the_latest_and_a_missed_notice() -> None:
    hub, peer = Hub(), Peer()
    peer.reading.clear()
    task = pump(hub, Client(peer.send, limit=4))
    hub.publish(telemetry(0))
    await asyncio.wait_for(peer.blocked.wait(), WITHIN)  # the pump waits on the stalled peer
    for seq in range(1, 50):
        hub.publish(telemetry(seq))
    peer.reading.set()
    received = await peer.until(lambda got: any(orjson.loads(t).get("seq") == 49 for t in got))
    sent = [orjson.loads(t) for t in received]
    assert sent[0] == {"seq": 0} and sent[-1] == {"seq": 49}
    notice = next(m for m in sent if m.get("event") == "missed")
    assert notice["count"] > 40 and notice["queue_ids"] == ["q"]
    assert len(sent) < 10
    await stop(task)


async def test_a_client_that_never_reads_is_let_go_and_others_carry_on() -> None:
    dropped: list[str] = []
    hub = Hub(on_dropped=dropped.append, send_timeout=0.2)
    stuck, fine = Peer(), Peer()
    stuck.reading.clear()
    watchdog = asyncio.create_task(hub.watch_sends())
    stuck_client = Client(stuck.send, limit=100)
    stuck_pump = pump(hub, stuck_client)
    fine_pump = pump(hub, Client(fine.send, limit=100))
    hub.publish(lifecycle(1))
    assert len(await fine.until_count(1)) == 1, "the stalled client did not hold back the other"
    await asyncio.wait_for(stuck_pump, WITHIN)
    assert dropped == ["closed_slow_client"] and len(hub.clients) == 1
    assert stuck_client.timed_out and not stuck_pump.cancelled()
    await stop(fine_pump)
    await stop(watchdog)


async def test_a_pump_cancelled_from_outside_is_cancelled() -> None:
    hub, peer = Hub(), Peer()
    task = pump(hub, Client(peer.send, limit=10))
    await asyncio.sleep(0)
    await stop(task)
    assert task.cancelled() and not hub.clients


async def test_a_lifecycle_overflow_lets_the_client_go() -> None:
    hub, peer = Hub(send_timeout=60), Peer()
    peer.reading.clear()
    client = Client(peer.send, limit=5)
    task = pump(hub, client)
    hub.publish(lifecycle(0))
    await asyncio.wait_for(peer.blocked.wait(), WITHIN)
    for n in range(1, 10):
        hub.publish(lifecycle(n))
    assert client.overflowed
    peer.reading.set()
    await asyncio.wait_for(task, WITHIN)
    assert client not in hub.clients


async def test_rooms_filter_by_queue() -> None:
    hub, peer = Hub(), Peer()
    task = pump(hub, Client(peer.send, limit=10, queue_ids={"a"}))
    hub.publish(telemetry(1, "b"))
    hub.publish(telemetry(2, "a"))
    assert seqs(await peer.until_count(1)) == [2]
    await stop(task)


async def test_a_connection_that_takes_frames_gets_them_at_once_without_its_pump() -> None:
    sent: list[int] = []
    hub, peer = Hub(on_sent=sent.append), Peer()
    client = Client(peer.send, limit=10, send_now=peer.send_now)
    hub.join(client)  # no pump at all
    for seq in range(3):
        hub.publish(telemetry(seq))
    assert seqs(peer.received) == [0, 1, 2] and sent == [1, 1, 1]
    assert not client.ready.is_set(), "nothing waits in the outbox"


async def test_a_connection_that_cannot_take_a_frame_keeps_the_order_through_the_pump() -> None:
    hub, peer = Hub(), Peer()
    client = Client(peer.send, limit=10, send_now=peer.send_now)
    hub.join(client)
    peer.reading.clear()
    hub.publish(lifecycle(1))  # refused at once: queued
    peer.reading.set()
    hub.publish(lifecycle(2))  # writable again, but 1 waits: 2 queues behind it
    assert peer.received == [] and len(client.events) == 2
    task = asyncio.create_task(hub.serve(client))
    await peer.until_count(2)
    hub.publish(lifecycle(3))  # the outbox is empty again: at once
    assert [orjson.loads(t)["event"] for t in peer.received] == ["e1", "e2", "e3"]
    await stop(task)


async def test_a_connection_that_falls_behind_is_conflated_and_told() -> None:
    hub, peer = Hub(), Peer()
    client = Client(peer.send, limit=4, send_now=peer.send_now)
    peer.reading.clear()
    task = pump(hub, client)
    for seq in range(50):
        hub.publish(telemetry(seq))
    peer.reading.set()
    received = await peer.until(lambda got: any(orjson.loads(t).get("seq") == 49 for t in got))
    notice = next(orjson.loads(t) for t in received if "missed" in t)
    assert notice["count"] > 40 and len(received) < 10
    await stop(task)
