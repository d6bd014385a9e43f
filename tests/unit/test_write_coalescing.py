"""CoalescingTransport over a real socket pair: the writes of one loop turn leave as one
write, in order, at most a turn later; closing flushes first, aborting drops."""

from __future__ import annotations

import asyncio
import socket

from app.write_coalescing import CoalescingTransport

KEEP: list[asyncio.StreamWriter] = []
"""The reading ends' writers: a writer that is collected closes its socket."""


async def pair() -> tuple[CoalescingTransport, asyncio.Transport, asyncio.StreamReader]:
    ours, theirs = socket.socketpair()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_connection(asyncio.Protocol, sock=ours)
    reader, writer = await asyncio.open_connection(sock=theirs)
    KEEP.append(writer)
    assert isinstance(transport, asyncio.Transport)
    return CoalescingTransport(transport, loop), transport, reader


async def test_one_turns_writes_leave_together_in_order() -> None:
    coalescing, real, reader = await pair()
    for n in range(5):
        coalescing.write(f"frame-{n};".encode())
    assert coalescing.get_write_buffer_size() == 40, "gathered, not handed on yet"
    await asyncio.sleep(0)  # one turn
    assert coalescing.get_write_buffer_size() == real.get_write_buffer_size()
    assert await reader.readexactly(40) == b"frame-0;frame-1;frame-2;frame-3;frame-4;"
    coalescing.close()


async def test_many_connections_writes_of_a_turn_leave_in_the_next() -> None:
    pairs = [await pair() for _ in range(3)]
    for n, (coalescing, _, _) in enumerate(pairs):
        coalescing.write(f"to-{n};".encode())
        coalescing.write(b"more;")
    await asyncio.sleep(0)  # one turn: one callback flushed them all
    for n, (coalescing, real, reader) in enumerate(pairs):
        assert coalescing.get_write_buffer_size() == real.get_write_buffer_size()
        assert await reader.readexactly(10) == f"to-{n};more;".encode()
        coalescing.close()


async def test_close_flushes_what_was_gathered_first() -> None:
    coalescing, _, reader = await pair()
    coalescing.write(b"last words")
    coalescing.close()
    assert await reader.read() == b"last words"


async def test_abort_drops_what_was_gathered() -> None:
    coalescing, _, reader = await pair()
    coalescing.write(b"never sent")
    coalescing.abort()
    assert await reader.read() == b""
