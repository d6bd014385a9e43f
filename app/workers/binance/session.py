"""One WebSocket of a combined-stream connection: opened, subscribed (paced), read.

A session hands each event to the stream handler, or, while two sessions overlap during a
rotation, to the `Handover` that decides which of the two an event counts from.

The socket is aiohttp's WebSocket client: its frame reader is compiled (Cython), so a
message costs about 1.1 us of CPU to receive where `websockets`' pure-Python protocol took
3.5-4.5 (bench loaders, same feed, same run); the receive was half of a stream job's time.
Pings are answered (autoping), none are sent, as Binance expects.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from time import time_ns
from typing import Any

import aiohttp
import orjson

from app.aio import cancel_and_wait
from app.workers.binance.batcher import Batcher
from app.workers.binance.errors import BinanceError, StreamProtocolError
from app.workers.binance.handover import StreamHandler
from app.workers.binance.settings import BinanceTuning
from app.workers.binance.wire import DECODE_ERRORS, Decode, Envelope, decoder_for

SHUTDOWN = "!serverShutdown"
CLEAN_CLOSE_CODES = frozenset({1000, 1001})
"""A close with these codes is the server ending the connection, not a failure."""
CLOSE_TIMEOUT_S = 1.0
MAX_MESSAGE_BYTES = 2**20
"""A larger message fails the connection (websockets' limit before, far above Binance's)."""
TEXT = aiohttp.WSMsgType.TEXT
DATA = frozenset({TEXT, aiohttp.WSMsgType.BINARY})
Route = Callable[[str, Any], None]
Socket = aiohttp.ClientWebSocketResponse


class Session:
    """Reads until the socket closes; `shutdown` is set when Binance announces one."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        ws: Socket,
        handler: StreamHandler,
        batcher: Batcher,
        route: Route | None,
    ) -> None:
        self.http, self.ws, self.handler, self.batcher = http, ws, handler, batcher
        self.route = route
        """None: every event goes to the handler; else to this (during a handover)."""
        self.seen: set[str] = set()
        """Streams heard from since the silence watch last looked."""
        self.heard: dict[str, float] = {}
        """When each subscribed stream was last heard from (or subscribed), monotonic."""
        self.shutdown = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    @property
    def reader(self) -> asyncio.Task[None]:
        return self.tasks[0]

    @property
    def subscriber(self) -> asyncio.Task[None]:
        """Sends the SUBSCRIBEs the URL could not hold; done once all are sent."""
        return self.tasks[1]

    def start(
        self, initial: list[str], extra: list[str], tuning: BinanceTuning, pace_per_s: float
    ) -> None:
        """Read, and SUBSCRIBE `extra` (the streams the URL did not name)."""
        self.heard = dict.fromkeys(initial, time.monotonic())
        self.tasks = [
            asyncio.create_task(self._read()),
            asyncio.create_task(self._subscribe(extra, tuning.subscribe_chunk, pace_per_s)),
        ]

    async def close(self) -> None:
        """Stop reading and subscribing, close the socket. A task that already failed was
        seen by the watch (`failure`), so its error is not raised again here."""
        for task in self.tasks:
            if not task.done():
                await cancel_and_wait(task)
            elif not task.cancelled():
                task.exception()
        await self.ws.close()
        await self.http.close()

    def failure(self) -> BaseException | None:
        """Why the reader ended (None while it runs or when the server closed cleanly)."""
        reader = self.reader
        return reader.exception() if reader.done() and not reader.cancelled() else None

    async def _subscribe(self, streams: list[str], chunk: int, pace_per_s: float) -> None:
        """SUBSCRIBE what did not fit in the URL, paced under the incoming-message limit."""
        for number, first in enumerate(range(0, len(streams), chunk), start=1):
            await asyncio.sleep(1 / pace_per_s)
            params = streams[first : first + chunk]
            await self.ws.send_bytes(
                orjson.dumps({"method": "SUBSCRIBE", "params": params, "id": number})
            )

    async def _read(self) -> None:
        try:
            await self._receive()
        except (OSError, aiohttp.ClientError) as error:
            raise BinanceError(f"stream connection failed: {error!r}") from error
        except DECODE_ERRORS as error:
            raise StreamProtocolError(f"Binance sent a frame that is not JSON: {error}") from error

    async def _receive(self) -> None:
        """The hot loop of a stream job: each message decoded once by the handler's
        decoder (app/workers/binance/wire.py), its event handed on with the time it
        arrived; what it uses is held in locals. A full batch is handed off to be sent
        while the next is read. Returns when the server closed the connection cleanly."""
        receive, seen, handler = self.ws.receive, self.seen, self.handler
        read, buffered = _message_queue(self.ws)
        decode: Decode = getattr(handler, "decode", None) or decoder_for("")
        pending, size, hand_off = self.batcher.pending, self.batcher.size, self.batcher.hand_off
        while True:
            if buffered and buffered[0][0].type is TEXT:
                received = await read()  # already here: returned without suspending
            else:
                received = await receive()
            if received.type not in DATA:
                return _ended(self.ws, received)
            message = decode(received.data)
            stream = message.stream
            if stream is None or stream == SHUTDOWN:
                self._special(message)
                continue
            seen.add(stream)
            route = self.route
            if route is None:
                handler(stream, message.data, time_ns() // 1_000_000)
            else:
                route(stream, message.data)
            if len(pending) >= size:
                await hand_off()

    def _special(self, message: Envelope) -> None:
        """A control answer (a refusal is an error), or Binance announcing a shutdown."""
        if message.stream == SHUTDOWN:
            self.shutdown.set()
        elif message.code is not None:
            raise StreamProtocolError(f"Binance refused a control message: {message}")


def _message_queue(ws: Socket) -> tuple[Callable[[], Awaitable[Any]], deque[Any] | None]:
    """aiohttp's queue of received messages: its `read` and its buffer, so a text message
    already received is taken without `receive`'s checks (1 us a message: its loop, flags
    and type tests, for a message that needs none of them). Anything else (control frames,
    the end) goes through `receive` as always. (ws.receive, None) where the queue differs."""
    queue = getattr(ws, "_reader", None)
    buffered = getattr(queue, "_buffer", None)
    if queue is None or not isinstance(buffered, deque):
        return ws.receive, None
    return queue.read, buffered


def _ended(ws: Socket, received: aiohttp.WSMessage) -> None:
    """The socket ended: cleanly (the server closed it), or raised as the failure it is."""
    if received.type is aiohttp.WSMsgType.ERROR:
        raise BinanceError(f"stream connection failed: {received.data!r}")
    if ws.close_code not in CLEAN_CLOSE_CODES:
        raise BinanceError(f"stream connection failed: closed with code {ws.close_code}")


async def open_session(
    url: str, handler: StreamHandler, batcher: Batcher, tuning: BinanceTuning, route: Route | None
) -> Session:
    """Connect (bounded by the request timeout); our errors for every way it can fail."""
    # proxies from the environment, as before; no total timeout on a connection for hours
    http = aiohttp.ClientSession(trust_env=True, timeout=aiohttp.ClientTimeout(total=None))
    try:
        async with asyncio.timeout(tuning.request_timeout_s):
            ws = await http.ws_connect(
                url,
                autoping=True,
                heartbeat=None,
                max_msg_size=MAX_MESSAGE_BYTES,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=CLOSE_TIMEOUT_S),
            )
    except (OSError, TimeoutError, aiohttp.ClientError) as error:
        await http.close()
        raise BinanceError(f"stream connection failed: {error!r}") from error
    except BaseException:
        await http.close()
        raise
    return Session(http, ws, handler, batcher, route)
