"""The MOEX fake itself honours protocols/moex.md: subprotocol names, frame kinds, CRLF."""

from __future__ import annotations

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tests.fakes.moex_stomp import FakeMoexServer

pytestmark = pytest.mark.timeout(10)
CONNECT = "CONNECT\ndomain:DEMO\nlogin:guest\npasscode:guest\n\n\0"


@pytest.mark.parametrize("subprotocol", ["STOMP", "v12.stomp"])
@pytest.mark.parametrize("binary", [False, True])
async def test_both_subprotocols_and_frame_kinds_are_accepted(
    subprotocol: str, binary: bool
) -> None:
    async with (
        FakeMoexServer() as server,
        connect(server.url, subprotocols=[Subprotocol(subprotocol)], proxy=None) as ws,
    ):
        await ws.send(CONNECT.encode() if binary else CONNECT)
        reply = await ws.recv()
    assert ws.subprotocol == subprotocol
    assert str(reply).startswith("CONNECTED\n") and '"structure"' in str(reply)
    assert server.client_frames["binary" if binary else "text"] == 1


async def test_crlf_line_endings_get_the_connection_dropped() -> None:
    async with (
        FakeMoexServer() as server,
        connect(server.url, subprotocols=[Subprotocol("STOMP")], proxy=None) as ws,
    ):
        await ws.send(CONNECT.replace("\n", "\r\n"))
        with pytest.raises(ConnectionClosed):
            await ws.recv()


async def test_extra_connect_headers_can_be_refused_like_some_gateways_do() -> None:
    async with (
        FakeMoexServer(reject_extra_connect_headers=True) as server,
        connect(server.url, subprotocols=[Subprotocol("STOMP")], proxy=None) as ws,
    ):
        await ws.send(CONNECT.replace("\n\n", "\naccept-version:1.2\n\n"))
        reply = await ws.recv()
    assert str(reply).startswith("ERROR\nmessage:gateway.exception")
