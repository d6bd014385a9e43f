"""A local Binance market-data WebSocket server (the `websockets` server), protocol-faithful.

Raw `/ws/<stream>` and combined `/stream?streams=` connections; SUBSCRIBE, UNSUBSCRIBE and
LIST_SUBSCRIPTIONS with the documented answers and errors; an incoming-message rate limit that
drops the connection; pings with a payload and a disconnect when the pong does not echo it in
time; `serverShutdown`; a connection lifetime; a stream-count limit; an outage (every connection
dropped, new ones refused for a while) during which the market goes on. Trades and
aggTrades are recorded on a LiveTape the REST fake serves by id; candles follow the clock
and close when the next one opens. In futures mode streams
are routed: /public (bookTicker, depth) and /market (the rest); any other path accepts
SUBSCRIBE and then sends nothing. Counters let tests assert what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from tests.fakes.binance_events import GENERATORS, DepthMarket, LiveTape, kline_events

PUBLIC = ("bookTicker", "depth")


@dataclass
class Client:
    ws: ServerConnection
    route: str
    combined: bool
    streams: set[str] = field(default_factory=set)
    received: deque[float] = field(default_factory=deque)


@dataclass
class FakeBinanceWs:
    futures: bool = False
    stream_limit: int = 1024
    message_limit: int = 5
    ping_interval_s: float = 20.0
    pong_timeout_s: float = 60.0
    lifetime_s: float = 86_400.0
    shutdown_grace_s: float = 0.2
    tick_s: float = 0.01
    depth: DepthMarket = field(default_factory=DepthMarket)
    tape: LiveTape = field(default_factory=LiveTape)
    """Every trade and aggTrade made, for the REST fake to serve by id."""
    live: set[str] = field(default_factory=set)
    """Streams that trade: once subscribed, a stream goes on whoever listens (ids advance
    while a client is away, so a reconnecting client sees a gap)."""
    refusing: bool = False
    accept_delay_s: float = 0.0
    """How long a new connection waits before its streams flow (the exchange's latency)."""
    counters: Counter[str] = field(default_factory=Counter)
    control_log: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    clients: list[Client] = field(default_factory=list)
    firehose: Callable[[int], bytes] | None = None
    """Benchmark mode: round n's pre-framed bytes, poured to every client (bench/)."""
    paused: bool = False
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    bumped: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""
    _server: Server | None = None
    _ticker: asyncio.Task[None] | None = None
    _seq: Counter[str] = field(default_factory=Counter)
    _candles: dict[str, int] = field(default_factory=dict)

    async def start(self) -> str:
        self.depth.futures = self.futures
        self._server = await serve(
            self._serve, "127.0.0.1", 0, ping_interval=None, compression=None, max_queue=None
        )
        port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}"
        self._ticker = asyncio.create_task(self._tick_forever())
        return self.url

    async def stop(self) -> None:
        if self._ticker:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self._server:
            self._server.close()
            await self._server.wait_closed()

    def count(self, name: str, by: int = 1) -> None:
        self.counters[name] += by
        self.bumped.set()

    async def wait_until(self, name: str, at_least: int) -> None:
        """Wait until counter `name` reaches `at_least` (callers bound the wait)."""
        while self.counters[name] < at_least:
            self.bumped.clear()
            await self.bumped.wait()

    def subscribed(self) -> set[str]:
        return {s for client in self.clients for s in client.streams}

    async def outage(self, seconds: float) -> None:
        """Drop every connection without a closing handshake and refuse new ones for
        `seconds`, while the market goes on."""
        self.refusing = True
        self.count("outages")
        for client in list(self.clients):
            client.ws.transport.abort()
        await asyncio.sleep(seconds)
        self.refusing = False

    async def announce_shutdown(self) -> None:
        """Tell every client `serverShutdown`, then close them after a grace period."""
        self.count("shutdowns")
        told = list(self.clients)
        for client in told:
            event = {"e": "serverShutdown", "E": time.time_ns() // 1_000_000}
            await self._send(client, "!serverShutdown", event)
        await asyncio.sleep(self.shutdown_grace_s)
        for client in told:  # this server's clients: new connections go to another
            await client.ws.close(1001, "server shutdown")

    # connection lifecycle

    async def _serve(self, ws: ServerConnection) -> None:
        if self.refusing:
            self.count("refused")
            await ws.close(1013, "try again later")
            return
        client = self._open(ws)
        if client is None:
            return
        self.count("handshakes")
        await asyncio.sleep(self.accept_delay_s)
        self.clients.append(client)
        self.count("connections")
        self.connected.set()
        helpers = [
            asyncio.create_task(self._ping(client)),
            asyncio.create_task(self._expire(client)),
        ]
        if self.firehose is not None:
            helpers.append(asyncio.create_task(self._pour(client, self.firehose)))
        try:
            await self._read(client)
        finally:
            self.clients.remove(client)
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)

    def _open(self, ws: ServerConnection) -> Client | None:
        assert ws.request is not None
        self.paths.append(ws.request.path)
        client = Client(ws, *parse_path(ws.request.path))
        self.counters["max_streams"] = max(self.counters["max_streams"], len(client.streams))
        self.live.update(client.streams)
        if len(client.streams) > self.stream_limit:
            self.count("stream_limit_closes")
            asyncio.get_running_loop().create_task(ws.close(1008, "too many streams"))
            return None
        return client

    async def _read(self, client: Client) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in client.ws:
                if self._over_rate(client):
                    self.count("rate_limit_closes")
                    await client.ws.close(1008, "Too many requests")
                    return
                await self._control(client, raw)

    def _over_rate(self, client: Client) -> bool:
        now = time.monotonic()
        client.received.append(now)
        while client.received and now - client.received[0] > 1.0:
            client.received.popleft()
        return len(client.received) > self.message_limit

    async def _ping(self, client: Client) -> None:
        """Ping with a payload; a client whose pong does not echo it in time is dropped."""
        while True:
            await asyncio.sleep(self.ping_interval_s)
            waiter = await client.ws.ping(os.urandom(8))
            try:
                await asyncio.wait_for(waiter, self.pong_timeout_s)
                self.count("pongs")
            except TimeoutError:
                self.count("pong_timeouts")
                await client.ws.close(1008, "pong timeout")
                return

    async def _expire(self, client: Client) -> None:
        await asyncio.sleep(self.lifetime_s)
        self.count("lifetime_closes")
        await client.ws.close(1000, "connection lifetime reached")

    # control messages

    async def _control(self, client: Client, raw: str | bytes) -> None:
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            await client.ws.send(orjson.dumps({"code": 3, "msg": "Invalid JSON: bad frame"}))
            return
        self.control_log.append((time.monotonic(), message))
        answer = self._answer(client, message)
        await client.ws.send(orjson.dumps(answer))

    def _answer(self, client: Client, message: Any) -> dict[str, Any]:
        ident = message.get("id") if isinstance(message, dict) else None
        method = message.get("method") if isinstance(message, dict) else None
        params = message.get("params", []) if isinstance(message, dict) else None
        if not isinstance(ident, int) or not isinstance(params, list):
            return {"code": 2, "msg": "Invalid request: missing id or params", "id": ident}
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": sorted(client.streams), "id": ident}
        if method == "UNSUBSCRIBE":
            client.streams.difference_update(params)
            return {"result": None, "id": ident}
        if method != "SUBSCRIBE":
            return {"code": 2, "msg": f"Invalid request: unknown method {method}", "id": ident}
        if len(client.streams | set(params)) > self.stream_limit:
            return {"code": 2, "msg": "Invalid request: too many streams", "id": ident}
        client.streams.update(params)
        self.live.update(params)
        self.count("subscribes")
        return {"result": None, "id": ident}

    # data

    def delivers(self, client: Client, stream: str) -> bool:
        """Spot: always. Futures: only on the stream's own route; elsewhere, silence."""
        if not self.futures:
            return True
        kind = stream.split("@", 1)[1]
        return client.route == ("/public" if kind.startswith(PUBLIC) else "/market")

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            for stream in [] if self.paused else sorted(self.live):
                for event in self._events(stream):
                    await self._broadcast(stream, event)

    def _events(self, stream: str) -> list[dict[str, Any]]:
        """What `stream` sends this tick (a lost depth diff is made but not sent)."""
        symbol, kind = stream.split("@", 1)
        if kind.startswith("depth"):
            event = self.depth.diff(symbol.upper())
            return [] if self.depth.take_drop(symbol.upper()) else [event]
        name, _, interval = kind.partition("_")
        if name == "kline":
            events, self._candles[stream] = kline_events(
                symbol.upper(), interval, self._candles.get(stream)
            )
            return events
        self._seq[stream] += 1
        event = GENERATORS[name](symbol.upper(), self._seq[stream], self.futures)
        if name in ("trade", "aggTrade"):
            self.tape.record(stream, event)
        return [event]

    async def _broadcast(self, stream: str, event: dict[str, Any]) -> None:
        for client in list(self.clients):
            if stream in client.streams and self.delivers(client, stream):
                await self._send(client, stream, event)

    async def _send(self, client: Client, stream: str, event: dict[str, Any]) -> None:
        body = {"stream": stream, "data": event} if client.combined else event
        with contextlib.suppress(ConnectionClosed):
            await client.ws.send(orjson.dumps(body).decode())
            self.count("sent")

    async def _pour(self, client: Client, firehose: Callable[[int], bytes]) -> None:
        """Benchmark mode: pre-framed rounds written as fast as the client reads them."""
        transport = client.ws.transport
        for number in itertools.count():
            if transport.is_closing():
                return
            transport.write(firehose(number))
            self.count("rounds")
            await client.ws.drain()


def parse_path(path: str) -> tuple[str, bool, set[str]]:
    """`/market/stream?streams=a/b` -> ("/market", combined, {a, b}); `/ws/a` -> ("", raw, {a})."""
    parts = urlsplit(path)
    combined = "/stream" in parts.path
    route, _, tail = parts.path.partition("/stream" if combined else "/ws")
    named = parse_qs(parts.query).get("streams", [""])[0] if combined else tail.strip("/")
    return route, combined, {name for name in named.split("/") if name}


def text_frame(payload: bytes) -> bytes:
    """An unmasked server-to-client text frame (RFC 6455 section 5.2)."""
    size = len(payload)
    if size < 126:
        return bytes([0x81, size]) + payload
    if size < 65536:
        return bytes([0x81, 126]) + size.to_bytes(2, "big") + payload
    return bytes([0x81, 127]) + size.to_bytes(8, "big") + payload
