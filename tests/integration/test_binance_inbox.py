"""The stream loader's Inbox against a real websockets server: buffered messages taken at
once, in order, whole, up to the limit, and the end of the stream raised as `recv` does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosedOK

from app.workers.binance.inbox import Inbox, Message
from tests.fixtures.eventually import eventually

pytestmark = pytest.mark.timeout(10)
BEFORE = [f'{{"n":{n}}}' for n in range(30)]
FRAGMENTS = ['{"fragmented":', '"yes"}']
AFTER = [f'{{"m":{n}}}' for n in range(10)]


@pytest.fixture
async def ws() -> AsyncIterator[ClientConnection]:
    """A connection whose server sends 30 messages, one in two fragments, 10 more, then
    closes once the client says so (sending anything)."""

    async def pour(peer: ServerConnection) -> None:
        for text in BEFORE:
            await peer.send(text)
        await peer.send(iter(FRAGMENTS))
        for text in AFTER:
            await peer.send(text)
        await peer.recv()

    async with serve(pour, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", max_queue=4096) as client:
            yield client


async def all_buffered(ws: ClientConnection, inbox: Inbox) -> None:
    assert inbox.frames is not None, "this websockets has no frame queue: one recv each"
    frames = inbox.frames
    await eventually(lambda: frames and frames[-1].data == AFTER[-1].encode(), what="all sent")


async def taken_until_closed(inbox: Inbox, limit: int) -> list[list[Message]]:
    takes: list[list[Message]] = []
    with pytest.raises(ConnectionClosedOK):
        while True:
            takes.append(await inbox.take(limit))
    return takes


async def test_buffered_messages_come_at_once_in_order_and_whole(ws: ClientConnection) -> None:
    inbox = Inbox(ws)
    await all_buffered(ws, inbox)
    first = await inbox.take(1000)
    second = await inbox.take(1000)
    assert [bytes(m).decode() for m in first] == BEFORE
    assert bytes(second[0]).decode() == "".join(FRAGMENTS)
    assert [bytes(m).decode() for m in second[1:]] == AFTER
    await ws.send("done")
    assert await taken_until_closed(inbox, 1000) == []


async def test_no_take_exceeds_its_limit(ws: ClientConnection) -> None:
    inbox = Inbox(ws)
    await all_buffered(ws, inbox)
    takes = [await inbox.take(7) for _ in range(4)]
    assert [len(batch) for batch in takes] == [7, 7, 7, 7]
    await ws.send("done")
    rest = await taken_until_closed(inbox, 7)
    received = [bytes(m).decode() for batch in takes + rest for m in batch]
    assert received == [*BEFORE, "".join(FRAGMENTS), *AFTER]
    assert all(len(batch) <= 7 for batch in rest)


async def test_a_paused_connection_resumes_once_its_queue_is_taken() -> None:
    """More than the high-water mark buffered pauses reading; taking resumes it, so
    the sender's remaining messages all arrive."""
    total = 200

    async def pour(peer: ServerConnection) -> None:
        for n in range(total):
            await peer.send(str(n))
        await peer.recv()

    async with serve(pour, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", max_queue=16) as client:
            inbox = Inbox(client)
            await eventually(lambda: client.recv_messages.paused, what="reading paused")
            received: list[int] = []
            while len(received) < total:
                batch = await asyncio.wait_for(inbox.take(1000), 5)
                received += [int(m) for m in batch]
            await client.send("done")
    assert received == list(range(total))
