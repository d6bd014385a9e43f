"""The hub's promises: conflation only when behind, a missed notice, slow clients let go."""

from __future__ import annotations

import asyncio

import orjson

from app.control.hub import Client, Hub, HubMessage


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

    async def send(self, text: str) -> None:
        await self.reading.wait()
        self.received.append(text)


async def test_a_client_that_keeps_up_sees_every_update() -> None:
    hub, peer = Hub(), Peer()
    client = Client(peer.send, limit=10)
    pump = asyncio.create_task(hub.serve(client))
    await asyncio.sleep(0)
    for seq in range(5):
        hub.publish(telemetry(seq))
    await asyncio.sleep(0.01)
    assert [orjson.loads(t)["seq"] for t in peer.received] == [0, 1, 2, 3, 4]
    pump.cancel()


async def test_a_client_behind_gets_the_latest_and_a_missed_notice() -> None:
    hub, peer = Hub(), Peer()
    client = Client(peer.send, limit=4)
    peer.reading.clear()
    pump = asyncio.create_task(hub.serve(client))
    await asyncio.sleep(0)
    hub.publish(telemetry(0))
    await asyncio.sleep(0.01)  # the pump now waits on the stalled peer
    for seq in range(1, 50):
        hub.publish(telemetry(seq))
    peer.reading.set()
    await asyncio.sleep(0.01)
    sent = [orjson.loads(t) for t in peer.received]
    assert sent[0] == {"seq": 0} and sent[-1] == {"seq": 49}
    notice = next(m for m in sent if m.get("event") == "missed")
    assert notice["count"] > 40 and notice["queue_ids"] == ["q"]
    assert len(sent) < 10
    pump.cancel()


async def test_a_client_that_never_reads_is_let_go_and_others_carry_on() -> None:
    dropped: list[str] = []
    hub = Hub(on_dropped=dropped.append, send_timeout=0.2)
    stuck, fine = Peer(), Peer()
    stuck.reading.clear()
    stuck_pump = asyncio.create_task(hub.serve(Client(stuck.send, limit=100)))
    fine_pump = asyncio.create_task(hub.serve(Client(fine.send, limit=100)))
    await asyncio.sleep(0)
    hub.publish(lifecycle(1))
    await asyncio.sleep(0.01)
    assert len(fine.received) == 1, "the stalled client did not hold back the other"
    await asyncio.wait_for(stuck_pump, 2)
    assert dropped == ["closed_slow_client"] and len(hub.clients) == 1
    fine_pump.cancel()


async def test_a_lifecycle_overflow_lets_the_client_go() -> None:
    hub, peer = Hub(send_timeout=60), Peer()
    peer.reading.clear()
    client = Client(peer.send, limit=5)
    pump = asyncio.create_task(hub.serve(client))
    await asyncio.sleep(0)
    hub.publish(lifecycle(0))
    await asyncio.sleep(0.01)
    for n in range(1, 10):
        hub.publish(lifecycle(n))
    assert client.overflowed
    peer.reading.set()
    await asyncio.wait_for(pump, 2)
    assert client not in hub.clients


async def test_rooms_filter_by_queue() -> None:
    hub, peer = Hub(), Peer()
    client = Client(peer.send, limit=10, queue_ids={"a"})
    pump = asyncio.create_task(hub.serve(client))
    await asyncio.sleep(0)
    hub.publish(telemetry(1, "b"))
    hub.publish(telemetry(2, "a"))
    await asyncio.sleep(0.01)
    assert [orjson.loads(t)["seq"] for t in peer.received] == [2]
    pump.cancel()
