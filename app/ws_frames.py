"""A message's WebSocket frames, made once for every connection that gets it.

websockets encodes each frame per connection, compressing it with that connection's own
deflate context; profiled under `bench dispatcher`, that encoding was the fan-out's
largest cost per client (bench/fanout.py). A server's frames are not masked, so the same
bytes serve every connection whose negotiated parameters match:

- a message under `COMPRESS_FROM_BYTES` goes uncompressed, RSV1 unset (RFC 7692 §6: the
  bit says per message whether it is compressed, so an endpoint may choose);
- a larger one is compressed once per window size in use. That needs every connection to
  compress without context takeover, which the server declares whatever the client
  offered (RFC 7692 §7.1.1.1; app/ws_protocol.py does).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from websockets.extensions import Extension
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame, Opcode

COMPRESS_FROM_BYTES = 1024
"""Below this, deflate without a shared context gains a few dozen bytes for the cost of a
compression per message: not worth it."""
FINAL_TEXT = 0x81
COMPRESS_SETTINGS = {"memLevel": 5}
"""As uvicorn's per-connection compression."""


class SharedFrames:
    """One text message's frames, each made the first time a connection needs it."""

    __slots__ = ("_deflated", "_payload", "_plain")

    def __init__(self, text: str) -> None:
        self._payload = text.encode()
        self._plain: bytes | None = None
        self._deflated: dict[int, bytes] = {}

    def frame(self, window_bits: int | None) -> bytes:
        """The frame for a connection compressing with this window (None: no compression)."""
        if window_bits is None or len(self._payload) < COMPRESS_FROM_BYTES:
            if self._plain is None:
                self._plain = _serialize(self._payload, None)
            return self._plain
        deflated = self._deflated.get(window_bits)
        if deflated is None:
            deflated = self._deflated[window_bits] = _serialize(self._payload, window_bits)
        return deflated


def _serialize(payload: bytes, window_bits: int | None) -> bytes:
    """websockets' own framing and compression, with a one-message deflate context; an
    uncompressed frame's header is packed here (websockets' serializer cost more than the
    rest of a send)."""
    if window_bits is None:
        return _text_header(len(payload)) + payload
    deflate = _one_message_deflate(window_bits)
    return Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[deflate])


def _text_header(length: int) -> bytes:
    """FIN and opcode 1 (text), unmasked, with RFC 6455's three length forms."""
    if length < 126:
        return struct.pack("!BB", FINAL_TEXT, length)
    if length < 65536:
        return struct.pack("!BBH", FINAL_TEXT, 126, length)
    return struct.pack("!BBQ", FINAL_TEXT, 127, length)


def _one_message_deflate(window_bits: int) -> PerMessageDeflate:
    return PerMessageDeflate(
        remote_no_context_takeover=True,
        local_no_context_takeover=True,
        remote_max_window_bits=window_bits,
        local_max_window_bits=window_bits,
        compress_settings=COMPRESS_SETTINGS,
    )


def shared_window_bits(extensions: Sequence[Extension]) -> int | None:
    """The deflate window to compress a connection's shared frames with; None (send them
    uncompressed) when it does not compress, or keeps a context between messages."""
    for extension in extensions:
        if isinstance(extension, PerMessageDeflate):
            return extension.local_max_window_bits if extension.local_no_context_takeover else None
    return None
