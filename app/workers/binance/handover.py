"""Make-before-break: two sessions of one connection overlap, and per stream the events
count from the old one until the new one's continue them, so a planned reconnect leaves no
gap and writes nothing twice.

While the new session's events of a stream would leave a hole after what the old one
delivered, they wait; once its first waiting event continues the stream (the handler says
so: ids, candles, book update ids), the waiting events are handled (repeats are dropped by
the handler) and the stream has moved: the old session's later events of it are ignored.
"""

from __future__ import annotations

from typing import Any, Protocol

from app.workers.records import now_ms

Event = Any
"""An event as the handler's decoder made it (a Struct on trade streams, else a dict)."""


class StreamHandler(Protocol):
    """What a connection hands each event to (normalising, gap finding, order books).

    A handler may have a `decode` (app/workers/binance/wire.py) for its stream's messages;
    without one they are decoded into an Envelope whose event is a dict."""

    def on_connect(self, streams: list[str]) -> None:
        """A new session after a failure: whatever depended on continuity must resync."""

    def __call__(self, stream: str, data: Event, now: int) -> None: ...

    def continues(self, stream: str, data: Event) -> bool:
        """True when handling `data` next would leave no hole after what was handled."""


class Handover:
    """The streams of one connection moving from an old session to its successor."""

    def __init__(self, handler: StreamHandler, streams: list[str]) -> None:
        self.handler = handler
        self.streams = set(streams)
        self.moved: set[str] = set()
        self.waiting: dict[str, list[tuple[Event, int]]] = {}

    @property
    def complete(self) -> bool:
        return self.moved >= self.streams

    def from_old(self, stream: str, data: Event) -> None:
        if stream not in self.moved:
            self.handler(stream, data, now_ms())

    def from_new(self, stream: str, data: Event) -> None:
        if stream in self.moved:
            self.handler(stream, data, now_ms())
            return
        waiting = self.waiting.setdefault(stream, [])
        waiting.append((data, now_ms()))
        if self.handler.continues(stream, waiting[0][0]):
            self._move(stream)

    def retry(self) -> None:
        """The old session may have caught up since: move what continues now."""
        for stream, waiting in list(self.waiting.items()):
            if self.handler.continues(stream, waiting[0][0]):
                self._move(stream)

    def finish(self) -> None:
        """The old session is gone: every waiting event is handled (a hole left now is a
        gap the handler finds)."""
        for stream in list(self.waiting):
            self._move(stream)

    def _move(self, stream: str) -> None:
        for data, received in self.waiting.pop(stream):
            self.handler(stream, data, received)
        self.moved.add(stream)
