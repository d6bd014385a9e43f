"""STOMP 1.2 framing, written here rather than taken from a library.

The available STOMP packages either own the socket (TCP, not WebSocket) or are unmaintained;
framing is a page of code. Lines end in LF only: MOEX is reported to drop CRLF clients.
Header values are escaped per STOMP 1.2, except in CONNECT/CONNECTED as the spec says.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.workers.moex.errors import MoexProtocolError

_ESCAPES = {"\\": "\\\\", "\n": "\\n", ":": "\\c", "\r": "\\r"}
_UNESCAPES = {"\\": "\\", "n": "\n", "c": ":", "r": "\r"}
_RAW_COMMANDS = frozenset({"CONNECT", "CONNECTED"})


@dataclass(frozen=True)
class Frame:
    command: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def text(self) -> str:
        return self.body.decode("utf-8")


def _escape(value: str) -> str:
    return "".join(_ESCAPES.get(char, char) for char in value)


def _unescape(value: str) -> str:
    if "\\" not in value:
        return value
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        code = next(chars, "")
        if code not in _UNESCAPES:
            raise MoexProtocolError(f"bad header escape \\{code} in {value!r}")
        out.append(_UNESCAPES[code])
    return "".join(out)


def encode(frame: Frame) -> str:
    """Render a frame as WebSocket text: `COMMAND\\nk:v\\n\\nbody\\0`."""
    raw = frame.command in _RAW_COMMANDS
    lines = [frame.command]
    for name, value in frame.headers.items():
        lines.append(f"{name}:{value}" if raw else f"{_escape(name)}:{_escape(value)}")
    return "\n".join(lines) + "\n\n" + frame.body.decode("utf-8") + "\0"


def decode(data: str | bytes) -> list[Frame]:
    """Every frame in one WebSocket message (text or binary); bare EOLs are heart-beats."""
    buffer = data.encode("utf-8") if isinstance(data, str) else data
    frames: list[Frame] = []
    position = 0
    while True:
        position = _skip_eols(buffer, position)
        if position >= len(buffer):
            return frames
        frame, position = _decode_one(buffer, position)
        frames.append(frame)


def _skip_eols(buffer: bytes, position: int) -> int:
    while position < len(buffer) and buffer[position] in b"\r\n":
        position += 1
    return position


def _decode_one(buffer: bytes, position: int) -> tuple[Frame, int]:
    head_end = buffer.find(b"\n\n", position)
    if head_end < 0:
        raise MoexProtocolError("STOMP frame without the blank line after its headers")
    command, headers = _parse_head(buffer[position:head_end].decode("utf-8"))
    body_start = head_end + 2
    body_end = _body_end(buffer, body_start, headers.get("content-length"))
    return Frame(command, headers, buffer[body_start:body_end]), body_end + 1


def _parse_head(head: str) -> tuple[str, dict[str, str]]:
    command, *lines = head.split("\n")
    raw = command in _RAW_COMMANDS
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.rstrip("\r").partition(":")
        if not sep:
            raise MoexProtocolError(f"STOMP header line without a colon: {line!r}")
        name, value = (name, value) if raw else (_unescape(name), _unescape(value))
        headers.setdefault(name, value)  # STOMP 1.2: the first occurrence wins
    return command.rstrip("\r"), headers


def _body_end(buffer: bytes, start: int, content_length: str | None) -> int:
    end = start + int(content_length) if content_length else buffer.find(b"\0", start)
    if end < 0 or end >= len(buffer) or buffer[end] != 0:
        raise MoexProtocolError("STOMP frame body is not terminated by NUL")
    return end
