"""One MOEX WebSocket connection carrying many subscriptions, reconnecting until stopped."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException
from websockets.typing import Subprotocol

from app.aio import Backoff, background, stopped_within, unless_stopped, until_stopped
from app.workers.health import Retries
from app.workers.live_stats import LiveStats
from app.workers.moex import stomp
from app.workers.moex.decode import Message, parse_message
from app.workers.moex.errors import (
    MoexAccessDenied,
    MoexConnectionLost,
    MoexError,
    MoexProtocolError,
    MoexServerError,
)
from app.workers.moex.stomp import Frame
from app.workers.moex.subscriptions import Subscription

SUBPROTOCOLS = [Subprotocol("STOMP"), Subprotocol("v12.stomp")]
Handler = Callable[[Subscription, Message], Awaitable[None]]
MAX_MESSAGE_BYTES = 32 * 1024 * 1024  # a history snapshot can be large; still bounded


@dataclass(frozen=True)
class ConnectionSettings:
    url: str
    domain: str
    login: str
    passcode: str
    extra_connect_headers: dict[str, str] = field(default_factory=dict)
    subscribe_delay: float = 0.02
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    open_timeout: float = 10.0
    ping_interval: float | None = 20.0

    def connect_frame(self) -> Frame:
        """Only domain/login/passcode by default: extra headers upset some gateways."""
        headers = {"domain": self.domain, "login": self.login, "passcode": self.passcode}
        return Frame("CONNECT", {**headers, **self.extra_connect_headers})


def error_from(frame: Frame, login: str) -> MoexError:
    """An ERROR frame as our error: access denied is fatal, the rest reconnect."""
    message = frame.headers.get("message", "") or frame.body.decode("utf-8", "replace")
    lowered = message.lower()
    if "access denied" in lowered or "access-denied" in lowered:
        return MoexAccessDenied(f"MOEX denied access for login {login!r}: {message}")
    return MoexServerError(f"MOEX ERROR frame: {message}")


class MoexConnection:
    """Connect, subscribe everything with a small delay between frames, read until dropped."""

    def __init__(
        self,
        number: int,
        settings: ConnectionSettings,
        subscriptions: Sequence[Subscription],
        *,
        handler: Handler,
        stats: LiveStats,
        stop: asyncio.Event,
        warn: Callable[[str], None],
        retries: Retries | None = None,
    ) -> None:
        self.number = number
        self._settings = settings
        self._by_id = {sub.id: sub for sub in subscriptions}
        self._handler = handler
        self._stats = stats
        self._stop = stop
        self._warn = warn
        self._retries = retries
        self._backoff = Backoff(settings.backoff_initial, settings.backoff_max)
        self._pending: set[str] = set()
        self._receipted = asyncio.Event()

    async def run(self) -> None:
        """Keep the connection up until stop; MoexAccessDenied ends it at once."""
        while not self._stop.is_set():
            failure: MoexError | None = None
            try:
                await self._session()
            except (MoexConnectionLost, MoexServerError, MoexProtocolError) as error:
                failure = error
                self._warn(f"{self.key}: {error}; reconnecting")
            finally:
                self._stats.online.discard(self.number)
                for subscription in self._by_id.values():
                    subscription.dropped()
            delay = self._backoff.next_delay()
            if failure is not None:
                self._report_retry(str(failure), delay)
            await stopped_within(self._stop, delay)

    @property
    def key(self) -> str:
        """How retries of this connection are reported: its number and endpoint."""
        return f"MOEX connection {self.number} to {self._settings.url}"

    def _report_retry(self, error: str, delay: float) -> None:
        if self._retries is not None:
            self._retries.retrying(self.key, self._backoff.attempt, error, delay)

    async def _session(self) -> None:
        """One connection's life; opening it is raced against stop like everything else."""
        try:
            ws = await unless_stopped(self._open(), self._stop)
            if ws is None:
                return
            async with ws:
                if await until_stopped(self._serve(ws), self._stop):
                    await self._disconnect(ws)
        except (OSError, TimeoutError, WebSocketException) as error:
            raise MoexConnectionLost(f"{type(error).__name__}: {error}") from error

    async def _open(self) -> ClientConnection:
        settings = self._settings
        return await connect(
            settings.url,
            subprotocols=SUBPROTOCOLS,
            proxy=None,
            open_timeout=settings.open_timeout,
            close_timeout=2,
            ping_interval=settings.ping_interval,
            max_size=MAX_MESSAGE_BYTES,
        )

    async def _serve(self, ws: ClientConnection) -> None:
        await self._handshake(ws)
        self._stats.online.add(self.number)
        async with background(self._subscribe_all(ws)):
            await self._read(ws)

    async def _handshake(self, ws: ClientConnection) -> None:
        await ws.send(stomp.encode(self._settings.connect_frame()))
        frames = stomp.decode(await ws.recv())
        if frames and frames[0].command == "ERROR":
            raise error_from(frames[0], self._settings.login)
        if not frames or frames[0].command != "CONNECTED":
            raise MoexProtocolError(f"expected CONNECTED, got {frames[:1]!r}")

    async def _subscribe_all(self, ws: ClientConnection) -> None:
        """Send every SUBSCRIBE (a fresh snapshot follows each); reset backoff on receipts."""
        self._pending = set(self._by_id)
        self._receipted.clear()
        if not self._pending:
            self._receipted.set()
        for index, subscription in enumerate(self._by_id.values()):
            if index and self._settings.subscribe_delay:
                await asyncio.sleep(self._settings.subscribe_delay)
            await ws.send(stomp.encode(Frame("SUBSCRIBE", subscription.headers())))
        await self._receipted.wait()
        self._backoff.reset()
        if self._retries is not None:
            self._retries.recovered(self.key)

    async def _read(self, ws: ClientConnection) -> None:
        async for data in ws:
            for frame in stomp.decode(data):
                await self._dispatch(frame)
        raise MoexConnectionLost("the server closed the connection")

    async def _dispatch(self, frame: Frame) -> None:
        if frame.command == "MESSAGE":
            subscription = self._by_id.get(frame.headers.get("subscription", ""))
            if subscription is not None:
                await self._handler(subscription, parse_message(frame.body))
        elif frame.command == "RECEIPT":
            self._on_receipt(frame.headers.get("receipt-id", ""))
        elif frame.command == "ERROR":
            self._drop_refused(frame)
            raise error_from(frame, self._settings.login)
        elif frame.command == "CLOSED":
            raise MoexConnectionLost("the server sent CLOSED")

    def _drop_refused(self, frame: Frame) -> None:
        """An ERROR answering one SUBSCRIBE (by receipt-id) names a bad ticker: never resend
        it, or one unknown ticker would keep its 49 neighbours reconnecting forever."""
        refused = self._by_id.pop(frame.headers.get("receipt-id", ""), None)
        if refused is not None:
            reason = frame.headers.get("message", "")
            self._warn(
                f"MOEX refused {refused.selector} on {refused.destination}: {reason}; "
                "not subscribing it again"
            )

    def _on_receipt(self, receipt_id: str) -> None:
        self._pending.discard(receipt_id)
        if not self._pending:
            self._receipted.set()

    async def _disconnect(self, ws: ClientConnection) -> None:
        """Polite goodbye on stop; the socket is closed by the `async with` right after."""
        with contextlib.suppress(WebSocketException):
            await ws.send(stomp.encode(Frame("DISCONNECT", {"receipt": "disconnect"})))
