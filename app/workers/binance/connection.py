"""One combined-stream connection, kept alive: paced subscribes, silence watch, rotation.

Planned reconnects make before they break: before the 24 h lifetime
(`BINANCE_CONNECTION_LIFETIME_S`) and on `serverShutdown`, a new session is opened and
subscribed while the old one still delivers, and each stream moves to the new session once
its events continue the old one's (app/workers/binance/handover.py); the old session is
closed when every stream has moved, when it ends, or after `BINANCE_ROTATION_OVERLAP_S`.
Failures reconnect with capped, jittered backoff (stamina), never giving up while the job
runs; what they miss is a gap the handler finds.
"""

from __future__ import annotations

import asyncio
import time

from app.aio import Backoff
from app.retries import retrying
from app.workers.base import JobContext
from app.workers.binance.batcher import Batcher
from app.workers.binance.errors import BinanceError, StreamSilent
from app.workers.binance.handover import Handover, StreamHandler
from app.workers.binance.session import Route, Session, open_session
from app.workers.binance.settings import BinanceTuning

OVERLAP_POLL_S = 0.02


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
        self.rotations = 0
        self.failures = 0
        """Failed attempts since the last connection that opened (reported as `attempt`)."""

    async def run(self) -> None:
        """Connections forever: a failure reconnects after backoff."""
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
                        await self._connected()
                    except BinanceError as error:
                        self.failures += 1
                        self.ctx.warn(f"stream connection to {self.base_url} failed: {error}")
                        self.ctx.retrying(self.key, self.failures, error.message, attempt.next_wait)
                        raise

    @property
    def key(self) -> str:
        """How retries of this connection are reported: its endpoint."""
        return f"stream {self.base_url}"

    def url(self) -> str:
        initial = self.streams[: self.tuning.url_streams_max]
        return f"{self.base_url}/stream?streams={'/'.join(initial)}"

    async def _connected(self) -> None:
        """A fresh session, then each successor taking over, until one fails."""
        session = await self._open(route=None)
        self.handler.on_connect(self.streams)
        self.batcher.stats.online.add(self.number)
        try:
            while True:
                await self._serve(session)
                session = await self._rotate(session)
        finally:
            self.batcher.stats.online.discard(self.number)
            await session.close()
            await self.batcher.flush()

    async def _open(self, route: Route | None) -> Session:
        session = await open_session(self.url(), self.handler, self.batcher, self.tuning, route)
        split = self.tuning.url_streams_max
        session.start(self.streams[:split], self.streams[split:], self.tuning, self.pace_per_s)
        self.sessions += 1
        self.failures = 0
        self.ctx.recovered(self.key)
        return session

    async def _serve(self, session: Session) -> None:
        """Watch the live session every tick: flush, notice its end, a silent stream, a
        serverShutdown or the lifetime (then return: time to rotate)."""
        t = self.tuning
        opened = time.monotonic()
        while True:
            await asyncio.wait({session.reader}, timeout=t.watchdog_interval_s)
            await self.batcher.flush()
            if session.reader.done():
                raise _ended(session)
            now = time.monotonic()
            if session.shutdown.is_set():
                self.ctx.warn(f"serverShutdown on {self.base_url}: switching connections")
                return
            if now - opened >= t.connection_lifetime_s:
                self.ctx.warn(f"rotating {self.base_url} connection before its lifetime ends")
                return
            if silent := _silent(session, now, t.silence_timeout_s):
                raise StreamSilent(f"no data for {t.silence_timeout_s:g} s on {silent}")

    async def _rotate(self, old: Session) -> Session:
        """Open a successor while `old` still delivers and hand the streams over. A
        successor that fails first is dropped and tried again while `old` serves on."""
        backoff = Backoff(self.tuning.reconnect_initial_s, self.tuning.reconnect_max_s)
        while True:
            handover = Handover(self.handler, self.streams)
            old.route = handover.from_old
            new = await self._successor(old, handover, backoff)
            try:
                taken_over = await self._overlap(old, new, handover)
            except BaseException:  # the job stops meanwhile: the successor goes too
                await new.close()
                raise
            if taken_over:
                break
            old.route = None
            await new.close()
            self.ctx.warn(f"the next connection failed ({_ended(new)}); keeping this one")
            await self._wait_or_end(old, backoff)
        await old.close()
        handover.finish()
        new.route = None
        self.rotations += 1
        await self.batcher.flush()
        return new

    async def _successor(self, old: Session, handover: Handover, backoff: Backoff) -> Session:
        """The new session; while it cannot be opened the old one serves on."""
        while True:
            try:
                return await self._open(route=handover.from_new)
            except BinanceError as error:
                self.ctx.warn(f"could not open the next connection ({error}); keeping this one")
                await self._wait_or_end(old, backoff)

    async def _wait_or_end(self, old: Session, backoff: Backoff) -> None:
        """Back off while `old` serves; if it ends meanwhile, this connection failed."""
        await asyncio.wait({old.reader}, timeout=backoff.next_delay())
        if old.reader.done():
            raise _ended(old)

    async def _overlap(self, old: Session, new: Session, handover: Handover) -> bool:
        """False when the successor failed while `old` serves on; else True once every
        stream moved, `old` ended or the overlap is over (counted from the successor's
        last SUBSCRIBE: a connection of 1024 streams takes seconds to subscribe)."""
        deadline: float | None = None
        while not handover.complete and not old.reader.done():
            if new.reader.done():
                return False
            if deadline is None and new.subscriber.done():
                deadline = time.monotonic() + self.tuning.rotation_overlap_s
            if deadline is not None and time.monotonic() >= deadline:
                self.ctx.warn(f"streams still moving after the overlap: {_left(handover)}")
                return True
            await asyncio.sleep(OVERLAP_POLL_S)
            handover.retry()
        return True


def _silent(session: Session, now: float, limit: float) -> list[str]:
    """Subscribed streams not heard from for `limit` seconds."""
    heard = session.heard
    for stream in session.seen:
        if stream in heard:
            heard[stream] = now
    session.seen.clear()
    return [stream for stream, since in heard.items() if now - since >= limit]


def _ended(session: Session) -> BinanceError:
    """Why a session's reader ended, as the error that makes us reconnect; anything else
    it raised is a bug and is raised as it is."""
    failure = session.failure()
    if failure is None:
        return BinanceError("the server closed the stream connection")
    if isinstance(failure, BinanceError):
        return failure
    raise failure


def _left(handover: Handover) -> str:
    left = sorted(handover.streams - handover.moved)
    return ", ".join(left[:5]) + (f" and {len(left) - 5} more" if len(left) > 5 else "")
