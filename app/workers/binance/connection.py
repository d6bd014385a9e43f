"""One combined-stream WebSocket, kept alive: paced subscribes, silence watch, rotation.

It reconnects at once on `serverShutdown` and before the 24 h lifetime, and with capped,
jittered backoff (stamina) after failures, never giving up while the job runs.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

import orjson
import websockets
from websockets.asyncio.client import ClientConnection, connect

from app.retries import retrying
from app.workers.base import JobContext
from app.workers.binance.batcher import Batcher
from app.workers.binance.errors import BinanceError, StreamProtocolError, StreamSilent
from app.workers.binance.settings import BinanceTuning
from app.workers.binance.stopping import cancel_and_wait
from app.workers.records import now_ms

SHUTDOWN = "!serverShutdown"


class StreamHandler(Protocol):
    def on_connect(self, streams: list[str]) -> None:
        """A new session: whatever depended on continuity (order books) must resync."""

    def __call__(self, stream: str, data: dict[str, Any], now: int) -> None: ...


class StreamConnection:
    def __init__(
        self,
        ctx: JobContext,
        base_url: str,
        streams: list[str],
        handler: StreamHandler,
        batcher: Batcher,
        tuning: BinanceTuning,
        pace_per_s: float,
    ) -> None:
        self.ctx, self.base_url, self.streams = ctx, base_url, streams
        self.handler, self.batcher, self.tuning = handler, batcher, tuning
        self.pace_per_s = pace_per_s
        self.number = 1
        """This connection's number among the job's, as monitors list those online."""
        self.sessions = 0
        self.failures = 0
        """Failed attempts since the last connection that opened (reported as `attempt`)."""
        self._seen: set[str] = set()
        self._silent_since: dict[str, float] = {}
        self._ended: BinanceError | None = None

    async def run(self) -> None:
        """Sessions forever: a clean end reconnects at once, a failure after backoff."""
        t = self.tuning
        while True:
            async for attempt in retrying(
                f"Binance stream session ({len(self.streams)} streams)",
                on=BinanceError,
                attempts=None,
                timeout=None,
                wait_initial=t.reconnect_initial_s,
                wait_max=t.reconnect_max_s,
                wait_jitter=t.reconnect_jitter_s,
            ):
                with attempt:
                    try:
                        await self._session()
                    except BinanceError as error:
                        self.failures += 1
                        wait = attempt.next_wait
                        self.ctx.retrying(self.key, self.failures, error.message, wait)
                        raise

    @property
    def key(self) -> str:
        """How retries of this connection are reported: its endpoint."""
        return f"stream {self.base_url}"

    def url(self) -> str:
        initial = self.streams[: self.tuning.url_streams_max]
        return f"{self.base_url}/stream?streams={'/'.join(initial)}"

    async def _session(self) -> None:
        self._ended = None
        try:
            async with connect(
                self.url(),
                ping_interval=None,
                max_queue=4096,
                open_timeout=self.tuning.request_timeout_s,
                close_timeout=1,
            ) as ws:
                await self._serve(ws)
        except (OSError, TimeoutError, websockets.WebSocketException) as error:
            self.ctx.warn(f"stream connection to {self.base_url} failed: {error!r}")
            raise BinanceError(f"stream connection failed: {error!r}") from error
        if self._ended:
            raise self._ended

    async def _serve(self, ws: ClientConnection) -> None:
        self.sessions += 1
        self.failures = 0
        self.ctx.recovered(self.key)
        self.handler.on_connect(self.streams)
        self.batcher.stats.online.add(self.number)
        now = time.monotonic()
        self._silent_since = dict.fromkeys(self.streams[: self.tuning.url_streams_max], now)
        helpers = [
            asyncio.create_task(self._subscribe_rest(ws)),
            asyncio.create_task(self._watch(ws)),
        ]
        try:
            await self._receive(ws)
        finally:
            self.batcher.stats.online.discard(self.number)
            for task in helpers:
                await cancel_and_wait(task)
            await self.batcher.flush()

    async def _subscribe_rest(self, ws: ClientConnection) -> None:
        """SUBSCRIBE what did not fit in the URL, paced under the incoming-message limit."""
        rest = self.streams[self.tuning.url_streams_max :]
        chunk = self.tuning.subscribe_chunk
        for number, first in enumerate(range(0, len(rest), chunk), start=1):
            await asyncio.sleep(1 / self.pace_per_s)
            params = rest[first : first + chunk]
            await ws.send(orjson.dumps({"method": "SUBSCRIBE", "params": params, "id": number}))
            self._silent_since.update(dict.fromkeys(params, time.monotonic()))

    async def _receive(self, ws: ClientConnection) -> None:
        seen, handler, batcher = self._seen, self.handler, self.batcher
        async for raw in ws:
            message = orjson.loads(raw)
            stream = message.get("stream")
            if stream is None:
                self._control(message)
            elif stream == SHUTDOWN:
                self.ctx.warn(f"serverShutdown on {self.base_url}: reconnecting")
                return
            else:
                seen.add(stream)
                handler(stream, message["data"], now_ms())
                if batcher.full:
                    await batcher.flush()

    def _control(self, message: dict[str, Any]) -> None:
        if "code" in message:
            self._ended = StreamProtocolError(f"Binance refused a control message: {message}")
            raise self._ended

    async def _watch(self, ws: ClientConnection) -> None:
        """Every tick: flush, rotate before the lifetime ends, close on a silent stream."""
        t = self.tuning
        opened = time.monotonic()
        while True:
            await asyncio.sleep(t.watchdog_interval_s)
            await self.batcher.flush()
            now = time.monotonic()
            if now - opened >= t.connection_lifetime_s:
                self.ctx.warn(f"rotating {self.base_url} connection before its lifetime ends")
                break
            if silent := self._silent_streams(now):
                self._ended = StreamSilent(f"no data for {t.silence_timeout_s:g} s on {silent}")
                self.ctx.warn(f"{self._ended.message}: reconnecting")
                break
        await ws.close()

    def _silent_streams(self, now: float) -> list[str]:
        for stream in self._seen:
            if stream in self._silent_since:
                self._silent_since[stream] = now
        self._seen.clear()
        limit = self.tuning.silence_timeout_s
        return [s for s, since in self._silent_since.items() if now - since >= limit]
