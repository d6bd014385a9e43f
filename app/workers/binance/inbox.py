"""The messages a websockets connection has already buffered, taken in one go.

`ws.recv()` runs an await chain per message (connection, assembler, frame queue) even when
the message is buffered: a seventh of a stream loader's time (bench loaders). The protocol
parses each socket read into frames at once, so after one `recv` the rest of that read
waits in the assembler's frame queue; `Inbox.take` moves those whole (unfragmented)
messages out directly and leaves the rest (a fragmented message, the end of the stream)
to `recv`, which handles them as always. Flow control is kept: the assembler resumes
reading once its queue is low, as after its own `get`.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from websockets.asyncio.client import ClientConnection

Message = bytes | bytearray
"""A message's payload as received (the frame's buffer; both decoders take either)."""


class Inbox:
    """Reads one connection: `take` returns the next message and those buffered behind it."""

    def __init__(self, ws: ClientConnection) -> None:
        self.recv = ws.recv
        self.assembler: Any = getattr(ws, "recv_messages", None)
        frames = getattr(self.assembler, "frames", None)
        queue = getattr(frames, "queue", None)
        self.frames: deque[Any] | None = queue if isinstance(queue, deque) else None
        """The assembler's frame queue, or None where this websockets version has none
        (then every message comes through `recv`)."""

    async def take(self, limit: int) -> list[Message]:
        """At least one message (waiting for it; raising what `recv` raises), at most
        `limit`: the first through `recv`, then every whole message already queued."""
        batch: list[Message] = [await self.recv(decode=False)]
        frames = self.frames
        if frames:
            next_frame, append = frames.popleft, batch.append
            while frames and frames[0].fin and len(batch) < limit:
                append(next_frame().data)
            self.assembler.maybe_resume()
        return batch
