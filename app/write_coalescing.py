"""One socket write per event-loop turn for a WebSocket connection, however many frames.

The fan-out's pump sends a client's pending messages back to back; uvicorn writes each
frame to the transport at once, and asyncio sends it with one `send()` each. Profiled at
10,000 telemetry messages/s to one client, those writes were the service's largest cost
(bench/fanout.py). This transport wrapper gathers the writes of one turn and hands them to
the real transport together in the next one: the same bytes, in the same order, at most
one loop turn later. Closing (or aborting) flushes (or drops) what is gathered first, so
nothing is written after a close frame. Back-pressure is unchanged: the real transport
still pauses the protocol once its buffer passes the high-water mark.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any


class _TurnEnd:
    """The transports of one loop that gathered writes this turn, flushed by one callback:
    with 1,000 clients a callback per connection cost more than its flush."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._gathering: list[CoalescingTransport] = []

    def add(self, transport: CoalescingTransport) -> None:
        if not self._gathering:
            self._loop.call_soon(self._flush_all)
        self._gathering.append(transport)

    def _flush_all(self) -> None:
        gathering, self._gathering = self._gathering, []
        for transport in gathering:
            transport.flush()


_TURN_ENDS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _TurnEnd] = (
    weakref.WeakKeyDictionary()
)


def _turn_end(loop: asyncio.AbstractEventLoop) -> _TurnEnd:
    turn_end = _TURN_ENDS.get(loop)
    if turn_end is None:
        turn_end = _TURN_ENDS[loop] = _TurnEnd(loop)
    return turn_end


class CoalescingTransport:
    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._turn_end = _turn_end(loop)
        self._gathered: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._gathered:
            self._turn_end.add(self)
        self._gathered.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        """Hand everything gathered to the real transport, as one write."""
        if not self._gathered:
            return
        data = self._gathered[0] if len(self._gathered) == 1 else b"".join(self._gathered)
        self._gathered.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._gathered.clear()
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._gathered))

    def __getattr__(self, name: str) -> Any:
        """Everything else (extra info, reading, closing state) is the real transport's."""
        return getattr(self._transport, name)
