"""WebSocket fan-out: rooms per queue, a bounded outbox per client, conflation for slow ones.

`offer` is synchronous and O(1) per client, so a slow client never delays the others or
the consumer feeding the hub. A client whose connection can take a frame now, with nothing
queued before it, gets it at once (`send_now`, no task woken); otherwise the message waits
in its outbox for its pump. Lifecycle events queue up (bounded); telemetry and progress
are conflated to the latest per key, and the client is told how many it missed. A client
whose lifecycle queue overflows is closed with 1013 (try again later).
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum

import orjson

from app.ws_frames import SharedFrames

TRY_AGAIN_LATER = 1013
SEND_TIMEOUT_SECONDS = 5.0
WATCH_STEPS = 4


@dataclass(slots=True)
class HubMessage:
    """One message for many clients, encoded once. Not frozen: a frozen dataclass costs
    four times as much to make, and the fan-out makes one per record."""

    queue_id: str | None
    json: str
    line: str | Callable[[], str]
    """The human-readable line for `?format=text` clients, or how to make it: made once,
    when the first such client takes the message (most messages never meet one)."""
    conflation_key: str | None = None
    """Messages with the same key replace each other in a slow client's outbox."""
    _frames: SharedFrames | None = None
    _text_frames: SharedFrames | None = None

    @property
    def text(self) -> str:
        if not isinstance(self.line, str):
            self.line = self.line()
        return self.line

    def frames(self, text_format: bool) -> SharedFrames:
        """Its WebSocket frames, made once for every client that takes them at once."""
        if text_format:
            if self._text_frames is None:
                self._text_frames = SharedFrames(self.text)
            return self._text_frames
        if self._frames is None:
            self._frames = SharedFrames(self.json)
        return self._frames


Sender = Callable[[str], Awaitable[None]]
SendNow = Callable[[SharedFrames], bool]
"""Writes a message's frame at once if the connection can take it; False (nothing written)
if not."""


class Offered(Enum):
    SENT = "sent"
    QUEUED = "queued"
    CONFLATED = "conflated"
    """It replaced an unsent message of the same key."""


@dataclass(eq=False)
class Client:
    send: Sender
    limit: int
    text_format: bool = False
    queue_ids: set[str] | None = None
    """None follows every queue."""
    send_now: SendNow | None = None
    """Set once the hello is out, where the server offers it (app/ws_protocol.py)."""
    events: deque[HubMessage] = field(default_factory=deque)
    latest: dict[str, HubMessage] = field(default_factory=dict)
    missed: Counter[str] = field(default_factory=Counter)
    overflowed: bool = False
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    sending: bool = False
    """Set while its pump is in a send (the send watchdog looks at it)."""
    sends: int = 0
    timed_out: bool = False
    """The watchdog let it go: one send waited the whole send timeout."""
    _hub: Hub | None = field(default=None, repr=False)
    _pump: asyncio.Task[None] | None = field(default=None, repr=False)
    _sends_seen: int = field(default=0, repr=False)
    _stalled_checks: int = field(default=0, repr=False)

    def subscribe(self, queue_ids: Iterable[str]) -> list[str]:
        """Follow these queues too (a client following everything now follows only them);
        returns the ids it did not follow before. Costs O(ids given), not O(ids followed)."""
        followed: set[str] = self.queue_ids if self.queue_ids is not None else set()
        added = [q for q in dict.fromkeys(queue_ids) if q not in followed]
        if added and self.queue_ids is None:
            self._refile(followed)
        followed.update(added)
        if self._hub is not None:
            self._hub._file_ids(self, added)
        return added

    def unsubscribe(self, queue_ids: Iterable[str]) -> list[str]:
        """Stop following these queues; returns the ids it did follow. Unfollowing the last
        one follows everything again, as a client that never chose."""
        if self.queue_ids is None:
            return []
        removed = [q for q in dict.fromkeys(queue_ids) if q in self.queue_ids]
        self.queue_ids.difference_update(removed)
        if self._hub is not None:
            self._hub._unfile_ids(self, removed)
        if not self.queue_ids:
            self._refile(None)
        return removed

    def _refile(self, queue_ids: set[str] | None) -> None:
        hub = self._hub
        if hub is not None:
            hub._unfile(self)
        self.queue_ids = queue_ids
        if hub is not None:
            hub._file(self)

    def offer(self, message: HubMessage) -> Offered:
        """Send at once when the connection takes it and nothing waits before it (in order:
        the pump is idle, the outbox empty); else queue it for the pump."""
        send_now = self.send_now
        waiting = self.sending or self.events or self.latest
        if send_now is not None and not waiting and send_now(message.frames(self.text_format)):
            return Offered.SENT
        return self.queue(message)

    def queue(self, message: HubMessage) -> Offered:
        """Into the outbox, for the pump. Conflation starts only once the client is behind
        (half its queue used): a client that keeps up sees every update."""
        key = message.conflation_key
        if key is not None and (key in self.latest or len(self.events) >= self.limit // 2):
            conflated = self.latest.pop(key, None) is not None
            if conflated:
                self.missed[message.queue_id or ""] += 1
            self.latest[key] = message
            self.ready.set()
            return Offered.CONFLATED if conflated else Offered.QUEUED
        self.events.append(message)
        self.overflowed = self.overflowed or len(self.events) > self.limit
        self.ready.set()
        return Offered.QUEUED

    def take(self) -> list[HubMessage]:
        """Everything pending, lifecycle events first, then the latest of each key."""
        batch = [*self.events, *self.latest.values()]
        self.events.clear()
        self.latest.clear()
        self.ready.clear()
        return batch


class Hub:
    def __init__(
        self,
        on_sent: Callable[[int], None] = lambda n: None,
        on_dropped: Callable[[str], None] = lambda reason: None,
        send_timeout: float = SEND_TIMEOUT_SECONDS,
    ) -> None:
        self.clients: set[Client] = set()
        self._everything: set[Client] = set()
        self._rooms: dict[str, set[Client]] = {}
        """Clients by followed queue: a message costs O(its followers), not O(clients)."""
        self._send_timeout = send_timeout
        self._on_sent = on_sent
        self._on_dropped = on_dropped

    def publish(self, message: HubMessage) -> None:
        if message.queue_id is None:
            self._offer(self.clients, message)
            return
        self._offer(self._everything, message)
        room = self._rooms.get(message.queue_id)
        if room:
            self._offer(room, message)

    def _offer(self, clients: set[Client], message: HubMessage) -> None:
        sent = 0
        for client in clients:
            offered = client.offer(message)
            if offered is Offered.SENT:
                sent += 1
            elif offered is Offered.CONFLATED:
                self._on_dropped("conflated")
        if sent:
            self._on_sent(sent)

    def _file(self, client: Client) -> None:
        if client.queue_ids is None:
            self._everything.add(client)
        else:
            self._file_ids(client, client.queue_ids)

    def _unfile(self, client: Client) -> None:
        self._everything.discard(client)
        self._unfile_ids(client, client.queue_ids or ())

    def _file_ids(self, client: Client, queue_ids: Iterable[str]) -> None:
        for queue_id in queue_ids:
            self._rooms.setdefault(queue_id, set()).add(client)

    def _unfile_ids(self, client: Client, queue_ids: Iterable[str]) -> None:
        for queue_id in queue_ids:
            room = self._rooms.get(queue_id)
            if room is not None:
                room.discard(client)
                if not room:
                    del self._rooms[queue_id]

    @property
    def followed(self) -> int:
        """Room memberships across clients (bounded by clients x MAX_FOLLOWED)."""
        return sum(len(room) for room in self._rooms.values())

    def join(self, client: Client) -> None:
        """Start offering messages to the client (at once, not when its pump first runs)."""
        self.clients.add(client)
        client._hub = self
        self._file(client)

    async def serve(self, client: Client) -> None:
        """Pump the client's outbox (joining it first if need be); returns when it falls too
        far behind (its queue overflowed, or one send waited longer than the send
        timeout, as `watch_sends` finds): close it 1013."""
        self.join(client)
        client._pump = asyncio.current_task()
        try:
            while True:
                await client.ready.wait()
                if client.overflowed:
                    break
                await self._send_pending(client)
        except asyncio.CancelledError:
            if not client.timed_out:
                raise
            client._pump.uncancel()  # type: ignore[union-attr]
        finally:
            self.leave(client)
            client._pump = None
        self._on_dropped("closed_slow_client")

    def leave(self, client: Client) -> None:
        """Stop offering messages to the client (its outbox stays as it is)."""
        self.clients.discard(client)
        self._unfile(client)
        client._hub = None

    async def _send_pending(self, client: Client) -> None:
        """No timer per send or per batch (one cost more than the send itself with 10,000
        clients): the watchdog times the sends instead."""
        notice = _missed_notice(client)
        batch = client.take()
        client.sending = True
        try:
            if notice is not None:
                await client.send(notice)
            for message in batch:
                await client.send(message.text if client.text_format else message.json)
                client.sends += 1
        finally:
            client.sending = False
        self._on_sent(len(batch))

    async def watch_sends(self) -> None:
        """Forever (cancel to stop; a supervised task): let go of every client whose pump
        has been in one send for the send timeout (checked WATCH_STEPS times per timeout,
        so a send is cut after the timeout, or up to a step more)."""
        while True:
            await asyncio.sleep(self._send_timeout / WATCH_STEPS)
            for client in list(self.clients):
                self._watch(client)

    def _watch(self, client: Client) -> None:
        if not client.sending or client.sends != client._sends_seen:
            client._sends_seen, client._stalled_checks = client.sends, 0
            return
        client._stalled_checks += 1
        if client._stalled_checks >= WATCH_STEPS and client._pump is not None:
            client.timed_out = True
            client._pump.cancel()


def _missed_notice(client: Client) -> str | None:
    if not client.missed:
        return None
    notice = {
        "event": "missed",
        "count": sum(client.missed.values()),
        "queue_ids": sorted(q for q in client.missed if q),
    }
    client.missed.clear()
    if client.text_format:
        return f"⚠ missed {notice['count']} updates while behind"
    return orjson.dumps(notice).decode()
