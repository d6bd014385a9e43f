"""Limits on a request's head (request line and headers), enforced where it is parsed.

uvicorn's httptools protocol buffers a head of any size for as long as it takes to arrive,
so a client without a token could hold megabytes per connection, or a connection forever.
This subclass feeds the parser at most `max_head_bytes` of a head, counts the headers,
bounds the URL and the time the head may take, and answers 431, 414 or 408 in the
envelope, then closes. The WebSocket protocol is also fixed: websockets queues its own
414/431 refusal of a handshake it cannot parse, which uvicorn never writes; it writes
through a CoalescingTransport (one socket write per loop turn); and it offers the app a
synchronous `send_now` in the scope's extensions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, cast

import httptools
import orjson
import structlog
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

from app.config import Settings
from app.write_coalescing import CoalescingTransport
from app.ws_frames import COMPRESS_SETTINGS, SharedFrames, shared_window_bits

log = structlog.get_logger(__name__)
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
LINGER_SECONDS = 1.0
"""After a refusal we read and discard this long, so the client gets the answer instead
of a reset for the bytes it is still sending."""


@dataclass(frozen=True)
class HeadLimits:
    max_head_bytes: int = 16_384
    max_headers: int = 100
    max_url_bytes: int = 8_000
    timeout_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> HeadLimits:
        return cls(
            max_head_bytes=settings.max_header_bytes,
            max_headers=settings.max_header_count,
            max_url_bytes=settings.max_url_bytes,
            timeout_seconds=settings.header_timeout_seconds,
        )


class Refusal(Exception):
    """A head we do not take; `reason` labels the metric (header_too_large,
    too_many_headers, url_too_long, header_timeout)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message

    def response(self) -> bytes:
        body = orjson.dumps({"status": "error", "message": self.message, "data": None})
        head = (
            f"HTTP/1.1 {self.status} {HTTPStatus(self.status).phrase}\r\n"
            "content-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        return head.encode("ascii") + body


OnRefused = Callable[[str], None]


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with head limits (configure through `limited_http`)."""

    limits = HeadLimits()
    on_refused: OnRefused = staticmethod(lambda reason: None)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._linger: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._head_timer, self._linger):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._linger is not None:
            return  # refused: discard what is still coming
        self._unset_keepalive_if_required()
        rest = b""
        if self._in_head:
            room = self.limits.max_head_bytes - self._head_bytes
            data, rest = data[:room], data[room:]
            self._head_bytes += len(data)
        if not self._feed(data) or not rest:
            return
        if self._in_head:
            self._refuse(_head_too_large(self.limits))
        else:
            self.data_received(rest)

    def _feed(self, data: bytes) -> bool:
        """Parse; False once the connection was answered, refused or upgraded."""
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as error:
            if isinstance(error.__context__, Refusal):
                self._refuse(error.__context__)
            else:
                self._invalid()
            return False
        except httptools.HttpParserError:
            self._invalid()
            return False
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return False
        return True

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.limits.max_url_bytes:
            limit = self.limits.max_url_bytes
            raise Refusal(414, "url_too_long", f"the URL is longer than {limit} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        if len(self.headers) > self.limits.max_headers:
            limit = self.limits.max_headers
            raise Refusal(431, "too_many_headers", f"more than {limit} request headers")

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head, self._head_bytes = True, 0
        super().on_message_complete()

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(
                self.limits.timeout_seconds, self._head_timed_out
            )

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self._in_head or self.transport.is_closing():
            return
        if self._head_bytes == 0:
            self.transport.close()  # a connection that never sent a byte gets no answer
            return
        seconds = f"{self.limits.timeout_seconds:g}"
        self._refuse(Refusal(408, "header_timeout", f"request headers took over {seconds} s"))

    def _invalid(self) -> None:
        message = "Invalid HTTP request received."
        self.logger.warning(message)
        self.send_400_response(message)

    def _refuse(self, refusal: Refusal) -> None:
        """Answer, stop writing, read and discard a moment, close."""
        self._disarm_head_timer()
        self.on_refused(refusal.reason)
        log.warning("request refused", status=refusal.status, reason=refusal.message)
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # a pipelined answer is being written: no interleaving
            return
        self.transport.write(refusal.response())
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._linger = self.loop.call_later(LINGER_SECONDS, self.transport.close)


def _head_too_large(limits: HeadLimits) -> Refusal:
    message = f"request line and headers over {limits.max_head_bytes} bytes"
    return Refusal(431, "header_too_large", message)


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


def limited_http(limits: HeadLimits, on_refused: OnRefused) -> type[LimitedHttpProtocol]:
    """The protocol class uvicorn instantiates per connection, bound to these limits."""
    attributes = {"limits": limits, "on_refused": staticmethod(on_refused)}
    return type("LimitedHttpProtocol", (LimitedHttpProtocol,), attributes)
