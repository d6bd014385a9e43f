"""A local MOEX ISS+ STOMP-over-WebSocket server following shared/protocols/moex.md.

Its framing is written independently of app/workers/moex/stomp.py, so a bug in the client's
codec cannot hide behind the same bug here. Unpleasant parts included: Access denied,
ERROR frames, CRLF clients dropped, text and binary client frames, both subprotocol names,
and `drop_all()` to kill every connection at once. Counters and `wait_until` let tests await
states instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

STREAMS = {"MXSE.candles", "MXSE.orderbooks", "MXSE.securities"}
SELECTOR = re.compile(
    r'^TICKER="(?P<ticker>[A-Z0-9]+\.[A-Z0-9]+\.[A-Za-z0-9]+)"'
    r'(?: and interval="(?P<interval>[A-Za-z0-9]+)")?$'
)
COLUMNS = {
    "candles": ["FROM", "TILL", "OPEN", "HIGH", "LOW", "CLOSE", "VALUE", "VOLUME"],
    "orderbooks": ["BUYSELL", "PRICE", "QUANTITY"],
    "securities": ["TICKER", "LAST", "BID", "OFFER", "HIGH", "LOW", "VOLTODAY", "TIME"],
}


def frame(command: str, headers: dict[str, str], body: str = "") -> str:
    lines = [command, *(f"{name}:{value}" for name, value in headers.items())]
    return "\n".join(lines) + "\n\n" + body + "\0"


def parse(data: str) -> list[tuple[str, dict[str, str], str]]:
    frames = []
    for chunk in data.split("\0"):
        if not chunk.strip("\n"):
            continue
        head, _, body = chunk.lstrip("\n").partition("\n\n")
        command, *lines = head.split("\n")
        headers = dict(line.split(":", 1) for line in lines)
        frames.append((command, headers, body))
    return frames


FIRST_CANDLE = datetime(2026, 1, 22, 9, 58)
"""Candle minute 0, Moscow time; the market's clock moves on by `FakeMoexServer.advance`."""


def _moscow(minute: int, seconds: int = 0) -> str:
    return (FIRST_CANDLE + timedelta(minutes=minute, seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S")


CLASSIC = {
    0: ((306.13, 306.5, 306.0, 306.25), 1234567.8, 4000),
    1: ((306.25, 306.3, 306.2, 306.3), 99.5, 320),
}
"""Candles 0 and 1: the two every subscription's first snapshot has always held."""


def candle_row(minute: int) -> list[Any]:
    """Candle `minute` as the stream sends it: FROM, TILL, OPEN, HIGH, LOW, CLOSE (fixed,
    2 decimals), VALUE (fixed, 1), VOLUME."""
    cents = 30600 + minute
    default = ((cents / 100, (cents + 5) / 100, (cents - 5) / 100, (cents + 1) / 100),)
    prices, value, volume = CLASSIC.get(minute, (*default, cents * 10.5, 100 + minute))
    fixed = [[price, 2] for price in prices]
    return [_moscow(minute), _moscow(minute, 59), *fixed, [value, 1], volume]


def iss_row(minute: int) -> list[Any]:
    """Candle `minute` as ISS candles.json lists it: open, close, high, low, value,
    volume, begin, end (numbers plain, times Moscow)."""
    begin, end, o, h, low, c, value, volume = candle_row(minute)
    return [o[0], c[0], h[0], low[0], value[0], volume, begin, end]


def snapshot_rows(stream: str, ticker: str, minute: int = 0) -> list[list[Any]]:
    """Deterministic history: the two latest candles, a two-level book, one securities row."""
    if stream == "candles":
        return [candle_row(minute), candle_row(minute + 1)]
    if stream == "orderbooks":
        return [
            ["B", [306.1, 2], 10],
            ["B", [306.05, 2], 7],
            ["S", [306.2, 2], 5],
            ["S", [306.35, 2], 12],
        ]
    return [
        [ticker, [306.13, 2], [306.1, 2], [306.2, 2], [307.0, 2], [305.5, 2], 123456, "09:59:01"]
    ]


def update_rows(
    stream: str, ticker: str, step: int, minute: int = 0
) -> tuple[list[str], list[list[Any]]]:
    """One changing row: the current candle, a book level, or two securities columns."""
    if stream == "candles":
        current = candle_row(minute + 1)
        current[5], current[7] = [30630 + step, 2], 320 + step
        return COLUMNS["candles"], [current]
    if stream == "orderbooks":
        return COLUMNS["orderbooks"], [["B", [306.1, 2], 10 + step]]
    return ["TICKER", "LAST", "VOLTODAY"], [[ticker, [30613 + step, 2], 123456 + step]]


@dataclass
class Sub:
    id: str
    stream: str
    ticker: str
    interval: str | None


@dataclass(eq=False)
class Session:
    ws: ServerConnection
    subs: dict[str, Sub] = field(default_factory=dict)
    seq: int = 0
    updater: asyncio.Task[None] | None = None


@dataclass(eq=False)
class FakeMoexServer:
    domain: str = "DEMO"
    login: str = "guest"
    passcode: str = "guest"
    update_interval: float | None = None
    binary_messages: bool = False
    reject_extra_connect_headers: bool = False
    unknown_tickers: frozenset[str] = frozenset()
    host: str = "127.0.0.1"
    port: int = 0
    connections_total: int = 0
    sessions: set[Session] = field(default_factory=set)
    subscriptions: Counter[str] = field(default_factory=Counter)
    client_frames: Counter[str] = field(default_factory=Counter)
    commands: Counter[str] = field(default_factory=Counter)
    subprotocols: Counter[str] = field(default_factory=Counter)
    connect_headers: list[dict[str, str]] = field(default_factory=list)
    minute: int = 0
    """The market's clock in candles: snapshots hold candles `minute` and `minute + 1`."""
    iss_requests: list[dict[str, str]] = field(default_factory=list)
    """Every ISS candles.json request's path and parameters, in order."""
    _server: Server | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/infocx/v3/websocket"

    @property
    def active_subscriptions(self) -> int:
        return sum(self.subscriptions.values())

    async def __aenter__(self) -> FakeMoexServer:
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            compression=None,
            subprotocols=[Subprotocol("STOMP"), Subprotocol("v12.stomp")],
            process_request=self._iss,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def wait_until(self, predicate: Callable[[], bool], seconds: float = 5.0) -> None:
        """Await a state of the counters (re-checked on every change), bounded in time."""
        async with asyncio.timeout(seconds):
            while not predicate():
                await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    @property
    def iss_url(self) -> str:
        return f"http://{self.host}:{self.port}/iss"

    def advance(self, minutes: int) -> None:
        """The market moves on: later snapshots and updates are of later candles."""
        self.minute += minutes

    def _iss(self, connection: ServerConnection, request: Request) -> Response | None:
        """ISS on the same host as the gateway: candles.json answered, pages of 500 by
        `start`, the candles that began within `from`..`till`."""
        parts = urlsplit(request.path)
        if not parts.path.startswith("/iss/"):
            return None
        params = dict(parse_qsl(parts.query))
        self.iss_requests.append({"path": parts.path, **params})
        if not ISS_CANDLES.fullmatch(parts.path) or params.get("interval") != "1":
            return _json_response(connection, 404, {"error": "not served by this fake"})
        minutes = _minutes_between(params["from"], params["till"])
        start = int(params.get("start", 0))
        data = [iss_row(m) for m in minutes[start : start + ISS_PAGE]]
        columns = ["open", "close", "high", "low", "value", "volume", "begin", "end"]
        return _json_response(connection, 200, {"candles": {"columns": columns, "data": data}})

    def drop_all(self) -> int:
        """Kill every connection at once, without a closing handshake."""
        dropped = list(self.sessions)
        for session in dropped:
            session.ws.transport.abort()
        return len(dropped)

    async def error_all(self, message: str) -> None:
        """Send an ERROR frame on every connection and close it, as the gateway does."""
        for session in list(self.sessions):
            await self._fail(session, message)

    async def publish(
        self, stream: str, ticker: str, kind: str, columns: list[str], rows: list[list[Any]]
    ) -> int:
        """Send a MESSAGE to every subscription of `ticker` on `stream`; how many got it."""
        sent = 0
        for session in list(self.sessions):
            for sub in list(session.subs.values()):
                if sub.stream == stream and sub.ticker.endswith(f".{ticker}"):
                    await self._message(session, sub, kind, columns, rows)
                    sent += 1
        return sent

    async def _handle(self, ws: ServerConnection) -> None:
        session = Session(ws)
        self.connections_total += 1
        self.subprotocols[str(ws.subprotocol)] += 1
        self.sessions.add(session)
        self._notify()
        try:
            await self._serve(session)
        except ConnectionClosed:
            pass
        finally:
            await self._forget(session)

    async def _serve(self, session: Session) -> None:
        if session.ws.subprotocol is None:
            await session.ws.close(1002, "STOMP subprotocol required")
            return
        async for data in session.ws:
            self.client_frames["binary" if isinstance(data, bytes) else "text"] += 1
            text = data.decode() if isinstance(data, bytes) else data
            if "\r\n" in text:
                await session.ws.close(1002, "CRLF line endings")
                return
            for command, headers, body in parse(text):
                if not await self._on_frame(session, command, headers, body):
                    return

    async def _forget(self, session: Session) -> None:
        if session.updater is not None:
            session.updater.cancel()
            await asyncio.wait({session.updater})
        for sub in session.subs.values():
            self.subscriptions[sub.ticker] -= 1
        self.subscriptions += Counter()  # drop zero counts
        self.sessions.discard(session)
        self._notify()

    async def _on_frame(
        self, session: Session, command: str, headers: dict[str, str], body: str
    ) -> bool:
        """Handle one client frame; False when the connection is to be closed."""
        self.commands[command] += 1
        if command in ("CONNECT", "STOMP"):
            return await self._connect(session, headers)
        if command == "SUBSCRIBE":
            return await self._subscribe(session, headers)
        if command == "UNSUBSCRIBE":
            self._unsubscribe(session, headers.get("id", ""))
            return True
        if command == "DISCONNECT":
            if "receipt" in headers:
                await self._send(session, frame("RECEIPT", {"receipt-id": headers["receipt"]}))
            await session.ws.close()
            return False
        return await self._fail(session, "gateway.notimplemented")

    async def _connect(self, session: Session, headers: dict[str, str]) -> bool:
        self.connect_headers.append(headers)
        given = (headers.get("domain"), headers.get("login"), headers.get("passcode"))
        if given != (self.domain, self.login, self.passcode):
            return await self._fail(session, "Access denied")
        if self.reject_extra_connect_headers and set(headers) - {"domain", "login", "passcode"}:
            return await self._fail(session, "gateway.exception")
        await self._send(session, frame("CONNECTED", {"version": "1.2"}, _structure()))
        if self.update_interval:
            session.updater = asyncio.create_task(self._updates(session, self.update_interval))
        return True

    async def _subscribe(self, session: Session, headers: dict[str, str]) -> bool:
        match = SELECTOR.match(headers.get("selector", ""))
        destination = headers.get("destination", "")
        if not match or destination not in STREAMS or "id" not in headers:
            return await self._fail(session, "gateway.invalidrequest", headers.get("receipt"))
        if match["ticker"] in self.unknown_tickers:
            return await self._fail(session, "gateway.invalidrequest", headers.get("receipt"))
        stream = destination.split(".", 1)[1]
        sub = Sub(headers["id"], stream, match["ticker"], match["interval"])
        session.subs[sub.id] = sub
        self.subscriptions[sub.ticker] += 1
        if "receipt" in headers:
            await self._send(session, frame("RECEIPT", {"receipt-id": headers["receipt"]}))
        self._notify()
        rows = snapshot_rows(stream, sub.ticker.rsplit(".", 1)[1], self.minute)
        await self._message(session, sub, "snapshot", COLUMNS[stream], rows)
        return True

    def _unsubscribe(self, session: Session, sub_id: str) -> None:
        sub = session.subs.pop(sub_id, None)
        if sub is not None:
            self.subscriptions[sub.ticker] -= 1
            self._notify()

    async def _fail(self, session: Session, message: str, receipt: str | None = None) -> bool:
        """ERROR (naming the failed frame's receipt, if any), then close: STOMP's rule."""
        headers = {"message": message, **({"receipt-id": receipt} if receipt else {})}
        await self._send(session, frame("ERROR", headers, message))
        await session.ws.close()
        return False

    async def _updates(self, session: Session, interval: float) -> None:
        step = 0
        while True:
            await asyncio.sleep(interval)
            step += 1
            for sub in list(session.subs.values()):
                ticker = sub.ticker.rsplit(".", 1)[1]
                columns, rows = update_rows(sub.stream, ticker, step, self.minute)
                await self._message(session, sub, "updates", columns, rows)

    async def _message(
        self, session: Session, sub: Sub, kind: str, columns: list[str], rows: list[list[Any]]
    ) -> None:
        session.seq += 1
        body = json.dumps(
            {
                "properties": {"type": kind, "seqnum": session.seq, "timestamp": 1769065140},
                "columns": columns,
                "data": rows,
            }
        )
        await self._send(
            session,
            frame(
                "MESSAGE",
                {
                    "subscription": sub.id,
                    "destination": f"MXSE.{sub.stream}",
                    "content-type": "application/json",
                },
                body,
            ),
        )

    async def _send(self, session: Session, text: str) -> None:
        with contextlib.suppress(ConnectionClosed):
            await session.ws.send(text.encode() if self.binary_messages else text)


ISS_CANDLES = re.compile(
    r"/iss/engines/stock/markets/shares/boards/[A-Z]+/securities/[A-Z0-9]+/candles\.json"
)
ISS_PAGE = 500


def _minutes_between(start: str, end: str) -> list[int]:
    first = datetime.fromisoformat(start) - FIRST_CANDLE
    last = datetime.fromisoformat(end) - FIRST_CANDLE
    low = -(-int(first.total_seconds()) // 60)
    return list(range(low, int(last.total_seconds()) // 60 + 1))


def _json_response(connection: ServerConnection, status: int, body: Any) -> Response:
    response = connection.respond(status, json.dumps(body))
    response.headers["Content-Type"] = "application/json"
    return response


def _structure() -> str:
    streams = {"enums": [], "streams": ["candles", "orderbooks", "securities"], "queries": []}
    return json.dumps(
        {
            "version": {"server": "fake-moex", "stomp": "1.2"},
            "structure": {"MXSE": streams, "MXCX": streams},
        }
    )
