"""Limits on a request's head (request line and headers), enforced where it is parsed.

uvicorn's httptools protocol buffers a head of any size for as long as it takes to arrive,
so a client without a token could hold megabytes per connection, or a connection forever.
This subclass feeds the parser at most `max_head_bytes` of a head, counts the headers,
bounds the URL and the time the head may take, and answers 431, 414 or 408 in the
envelope, then closes. (The WebSocket protocol is app/ws_protocol.py.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import httptools
import orjson
import structlog
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.config import Settings

log = structlog.get_logger(__name__)
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


def limited_http(limits: HeadLimits, on_refused: OnRefused) -> type[LimitedHttpProtocol]:
    """The protocol class uvicorn instantiates per connection, bound to these limits."""
    attributes = {"limits": limits, "on_refused": staticmethod(on_refused)}
    return type("LimitedHttpProtocol", (LimitedHttpProtocol,), attributes)
