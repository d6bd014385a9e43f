"""Frames made once for all connections decode, with websockets' own parser, to the text."""

from __future__ import annotations

from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame
from websockets.streams import StreamReader

from app.ws_frames import COMPRESS_FROM_BYTES, SharedFrames, shared_window_bits

SMALL = '{"event": "job.telemetry", "seq": 1}'
LARGE = '{"event": "queue.updated", "data": "' + "BTCUSDT 65000.10 " * 200 + '"}'


def parsed(data: bytes, window_bits: int | None = None) -> Frame:
    """What a client makes of these bytes (decompressing as one that negotiated deflate)."""
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    extensions = [] if window_bits is None else [_client_deflate(window_bits)]
    parser = Frame.parse(reader.read_exact, mask=False, extensions=extensions)
    try:
        next(parser)
    except StopIteration as done:
        frame: Frame = done.value
        return frame
    raise AssertionError("the frame was incomplete")


def text(data: bytes, window_bits: int | None = None) -> str:
    return bytes(parsed(data, window_bits).data).decode()


def _client_deflate(window_bits: int) -> PerMessageDeflate:
    return PerMessageDeflate(True, False, window_bits, 12)


def test_a_small_message_goes_uncompressed_even_where_deflate_was_agreed() -> None:
    frames = SharedFrames(SMALL)
    data = frames.frame(12)
    assert data[0] & 0x40 == 0, "RSV1 unset: not compressed"
    assert text(data, 12) == SMALL and text(data) == SMALL
    assert frames.frame(12) is data, "made once, then shared"


def test_a_large_message_is_compressed_once_per_window_and_decodes() -> None:
    frames = SharedFrames(LARGE)
    assert len(LARGE) >= COMPRESS_FROM_BYTES
    for bits in (9, 12, 15):
        data = frames.frame(bits)
        assert data[0] & 0x40, "RSV1 set: compressed"
        assert len(data) < len(LARGE) / 4
        assert text(data, bits) == LARGE
        assert frames.frame(bits) is data


def test_a_connection_without_deflate_gets_the_plain_frame() -> None:
    data = SharedFrames(LARGE).frame(None)
    assert data[0] == 0x81 and text(data) == LARGE


def test_only_a_context_free_deflate_shares_compressed_frames() -> None:
    shared = PerMessageDeflate(False, True, 12, 10)
    kept = PerMessageDeflate(False, False, 12, 12)
    assert shared_window_bits([shared]) == 10
    assert shared_window_bits([kept]) is None
    assert shared_window_bits([]) is None


def test_every_length_form_of_a_plain_frame_parses() -> None:
    for size in (0, 125, 126, 65535, 65536):
        message = "x" * size
        assert text(SharedFrames(message).frame(None)) == message
