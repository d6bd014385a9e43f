"""WebSocket fan-out: rooms per queue, a bounded outbox per client, conflation for slow ones.

`offer` is synchronous and O(1) per client, so a slow client never delays the others or
the consumer feeding the hub. Lifecycle events queue up (bounded); telemetry and progress
are conflated to the latest per key, and the client is told how many it missed. A client
whose lifecycle queue overflows is closed with 1013 (try again later).
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import orjson

TRY_AGAIN_LATER = 1013
SEND_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class HubMessage:
    queue_id: str | None
    json: str
    text: str
    conflation_key: str | None = None
    """Messages with the same key replace each other in a slow client's outbox."""


Sender = Callable[[str], Awaitable[None]]


@dataclass(eq=False)
class Client:
    send: Sender
    limit: int
    text_format: bool = False
    queue_ids: set[str] | None = None
    """None follows every queue."""
    events: deque[HubMessage] = field(default_factory=deque)
    latest: dict[str, HubMessage] = field(default_factory=dict)
    missed: Counter[str] = field(default_factory=Counter)
    overflowed: bool = False
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    _hub: Hub | None = field(default=None, repr=False)

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

    def offer(self, message: HubMessage) -> bool:
        """Queue a message; False when it replaced an unsent one (conflated). Conflation
        starts only once the client is behind (half its queue used): a client that keeps
        up sees every update."""
        key = message.conflation_key
        if key is not None and (key in self.latest or len(self.events) >= self.limit // 2):
            conflated = self.latest.pop(key, None) is not None
            if conflated:
                self.missed[message.queue_id or ""] += 1
            self.latest[key] = message
            self.ready.set()
            return not conflated
        self.events.append(message)
        self.overflowed = self.overflowed or len(self.events) > self.limit
        self.ready.set()
        return True

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
        for client in clients:
            if not client.offer(message):
                self._on_dropped("conflated")

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
        timeout): close it 1013."""
        self.join(client)
        try:
            while True:
                await client.ready.wait()
                if client.overflowed:
                    break
                await self._send_pending(client)
        except TimeoutError:
            pass
        finally:
            self.leave(client)
        self._on_dropped("closed_slow_client")

    def leave(self, client: Client) -> None:
        """Stop offering messages to the client (its outbox stays as it is)."""
        self.clients.discard(client)
        self._unfile(client)
        client._hub = None

    async def _send_pending(self, client: Client) -> None:
        notice = _missed_notice(client)
        batch = client.take()
        if notice is not None:
            await client.send(notice)
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(None) as deadline:
            for message in batch:
                deadline.reschedule(loop.time() + self._send_timeout)
                await client.send(message.text if client.text_format else message.json)
        self._on_sent(len(batch))


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
