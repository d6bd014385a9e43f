"""STOMP 1.2 framing as MOEX speaks it: LF only, escapes, text and binary messages."""

from __future__ import annotations

import pytest

from app.workers.moex import stomp
from app.workers.moex.errors import MoexProtocolError
from app.workers.moex.stomp import Frame


def test_encode_uses_lf_only_and_ends_with_nul() -> None:
    text = stomp.encode(Frame("SUBSCRIBE", {"id": "1", "selector": 'TICKER="MXSE.TQBR.SBER"'}))
    assert text == 'SUBSCRIBE\nid:1\nselector:TICKER="MXSE.TQBR.SBER"\n\n\0'
    assert "\r" not in text


def test_connect_headers_are_not_escaped_other_frames_are() -> None:
    assert "passcode:a:b\n" in stomp.encode(Frame("CONNECT", {"passcode": "a:b"}))
    assert "message:a\\cb\\nc\n" in stomp.encode(Frame("SEND", {"message": "a:b\nc"}))


def test_decode_round_trips_escaped_headers_and_body() -> None:
    original = Frame("MESSAGE", {"subscription": "x:y\\z"}, b'{"a": 1}')
    assert stomp.decode(stomp.encode(original)) == [original]


def test_decode_accepts_binary_several_frames_and_heartbeat_eols() -> None:
    data = b"\n\nRECEIPT\nreceipt-id:1\n\n\0\nMESSAGE\nsubscription:1\n\nbody\0\n"
    frames = stomp.decode(data)
    assert [f.command for f in frames] == ["RECEIPT", "MESSAGE"]
    assert frames[1].body == b"body"


def test_content_length_allows_nul_in_body_and_first_header_wins() -> None:
    (frame,) = stomp.decode(b"MESSAGE\ncontent-length:3\nx:1\nx:2\n\na\0b\0")
    assert frame.body == b"a\0b" and frame.headers["x"] == "1"


@pytest.mark.parametrize(
    "broken",
    ["MESSAGE\nx:1\n\nbody", "MESSAGE\nnocolon\n\n\0", "MESSAGE\nx:bad\\q\n\n\0", "MESSAGE\nx:1"],
)
def test_broken_frames_raise_our_protocol_error(broken: str) -> None:
    with pytest.raises(MoexProtocolError):
        stomp.decode(broken)
