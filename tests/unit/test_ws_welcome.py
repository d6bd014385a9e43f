"""/ws/topic's hello: the client joins the hub first, so nothing published while the hello
is on its way (before the pump's first run) is missed; a failed hello leaves the hub."""

from __future__ import annotations

import asyncio

import pytest

from app.api.ws import welcome
from app.control.hub import Client, Hub
from tests.unit.test_hub import Peer, seqs, stop, telemetry

HELLO = '{"event": "hello"}'


async def test_what_is_published_during_the_hello_reaches_the_client() -> None:
    hub, peer = Hub(), Peer()

    async def send(text: str) -> None:
        if text == HELLO:
            hub.publish(telemetry(1))  # an event arriving while the hello is being sent
        await peer.send(text)

    client = Client(send, limit=10)
    await welcome(hub, client, HELLO)
    task = asyncio.create_task(hub.serve(client))
    received = await peer.until_count(2)
    assert received[0] == HELLO and seqs(received[1:]) == [1]
    await stop(task)


async def test_a_hello_that_cannot_be_sent_leaves_the_hub() -> None:
    hub = Hub()

    async def broken(text: str) -> None:
        raise ConnectionResetError("peer went away")

    client = Client(broken, limit=10, queue_ids={"q"})
    with pytest.raises(ConnectionResetError):
        await welcome(hub, client, HELLO)
    assert not hub.clients and hub.followed == 0
