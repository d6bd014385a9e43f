"""The WebSocket protocol uvicorn runs for /ws/topic: uvicorn's sans-I/O one, fixed and
made cheap for the fan-out.

- websockets refuses a handshake it cannot parse (a line over 8 KiB, too many headers) by
  queueing a 414/431 response; uvicorn never wrote it, so the client waited forever;
- it writes through a CoalescingTransport (one socket write per loop turn);
- it offers the app a synchronous `send_now` in the scope's extensions, writing a frame
  made once for every connection (app/ws_frames.py), with deflate kept context-free.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

from app.write_coalescing import CoalescingTransport
from app.ws_frames import COMPRESS_SETTINGS, SharedFrames, shared_window_bits

SEND_NOW_EXTENSION = "streamforge.websocket.send_now"
"""The scope extension under which the WebSocket protocol offers `send_now(frames) -> bool`."""
SHARED_FRAMES_DEFLATE = ServerPerMessageDeflateFactory(
    server_max_window_bits=12,
    client_max_window_bits=12,
    server_no_context_takeover=True,
    compress_settings=COMPRESS_SETTINGS,
)
"""uvicorn's compression settings, except that the server keeps no context between
messages: a message compressed once then serves every connection (app/ws_frames.py)."""


class AnsweringWebSocketProtocol(WebSocketsSansIOProtocol):
    """websockets refuses a handshake it cannot parse (a line over 8 KiB, too many headers)
    by queueing a 414/431 response; uvicorn never writes it, so the client waited forever."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Frames written in one loop turn leave in one socket write (app/write_coalescing.py)."""
        coalescing = CoalescingTransport(transport, asyncio.get_running_loop())
        super().connection_made(cast(asyncio.Transport, coalescing))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.window_bits: int | None = None
        """The deflate window of this connection's shared frames (app/ws_frames.py)."""
        if self.config.ws_per_message_deflate:
            self.conn = ServerProtocol(
                extensions=[SHARED_FRAMES_DEFLATE],
                max_size=self.config.ws_max_size,
                logger=self.conn.logger,
            )

    def handle_connect(self, event: Request) -> None:
        """Offer the app `send_now` through the scope (an ASGI extension), before its task
        first runs."""
        super().handle_connect(event)
        self.window_bits = shared_window_bits(self.conn.extensions)
        if self.handshake_initiated and not self.close_sent:
            extensions: dict[str, Any] = self.scope["extensions"]
            extensions[SEND_NOW_EXTENSION] = self.send_now

    def send_now(self, frames: SharedFrames) -> bool:
        """Write a message's frame at once, no task, no await: False (nothing written)
        unless the connection is open and its buffer below the high-water mark. The
        fan-out's fast path (app/control/hub.py): the ASGI send costs a coroutine chain
        and an encoding per frame and connection."""
        if self.close_sent or self.disconnected or not self.handshake_complete:
            return False
        if not self.writable.is_set() or self.conn.state is not State.OPEN:
            return False
        if self.transport.is_closing():
            return False
        self.transport.write(frames.frame(self.window_bits))
        return True

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self.handshake_initiated and self.conn.handshake_exc is not None:
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.transport.close()
