"""Local order books from diff-depth streams, kept exactly as protocols/binance.md says.

Spot: buffer, snapshot, drop `u <= lastUpdateId`, then each event needs `U <= id + 1`.
Futures: drop `u < lastUpdateId`, the first event spans the snapshot id, then `pu` chains.
A gap resyncs only its own symbol; the other books go on.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass, field
from typing import Any

from app.aio import cancel_and_wait
from app.workers.base import JobContext
from app.workers.binance.batcher import Batcher
from app.workers.binance.errors import BinanceError
from app.workers.binance.market import Market
from app.workers.binance.normalize import book_record
from app.workers.binance.rest_client import RestClient
from app.workers.binance.settings import BinanceTuning
from app.workers.health import GaveUp
from app.workers.records import now_ms

Event = dict[str, Any]


class Verdict(enum.Enum):
    SKIP = "skip"
    APPLY = "apply"
    GAP = "gap"


@dataclass
class LocalBook:
    futures: bool
    synced: bool = False
    last_id: int = 0
    previous_u: int | None = None
    bids: dict[str, str] = field(default_factory=dict)
    asks: dict[str, str] = field(default_factory=dict)
    buffer: list[Event] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def judge(self, event: Event) -> Verdict:
        if self.futures:
            if self.previous_u is None:
                if event["u"] < self.last_id:
                    return Verdict.SKIP
                return Verdict.APPLY if event["U"] <= self.last_id else Verdict.GAP
            if event["u"] <= self.last_id:
                return Verdict.SKIP  # seen already (two connections overlapping)
            return Verdict.APPLY if event["pu"] == self.previous_u else Verdict.GAP
        if event["u"] <= self.last_id:
            return Verdict.SKIP
        return Verdict.APPLY if event["U"] <= self.last_id + 1 else Verdict.GAP

    def apply(self, event: Event) -> None:
        _update(self.bids, event["b"])
        _update(self.asks, event["a"])
        self.last_id = self.previous_u = event["u"]

    def load(self, snapshot: dict[str, Any]) -> None:
        self.bids = {price: qty for price, qty in snapshot["bids"]}
        self.asks = {price: qty for price, qty in snapshot["asks"]}
        self.last_id, self.previous_u, self.synced = snapshot["lastUpdateId"], None, True


def _update(side: dict[str, str], levels: list[list[str]]) -> None:
    for price, quantity in levels:
        if not quantity.strip("0."):  # "0.00000000": exactly zero, no float on the way
            side.pop(price, None)
        else:
            side[price] = quantity


class DepthBooks:
    """StreamHandler for `@depth` streams: one LocalBook per symbol, resynced on its own."""

    def __init__(
        self, ctx: JobContext, market: Market, tuning: BinanceTuning, batcher: Batcher
    ) -> None:
        self.ctx, self.market, self.batcher = ctx, market, batcher
        self.limit = tuning.depth_snapshot_limit or market.depth_limit
        self.client = RestClient(market.rest_url, tuning, ctx)
        self.books: dict[str, LocalBook] = {}
        self.syncs: dict[str, asyncio.Task[None]] = {}
        self.resyncs = 0

    def on_connect(self, streams: list[str]) -> None:
        """A new connection missed diffs: every book it carries starts over."""
        for stream in streams:
            self.resync(stream.split("@", 1)[0].upper())

    def continues(self, stream: str, data: Event) -> bool:
        """A successor's diff continues a synced book when the book would apply or skip it."""
        book = self.books.get(data["s"])
        if book is None or not book.synced:
            return True
        return book.judge(data) is not Verdict.GAP

    def __call__(self, stream: str, data: Event, now: int) -> None:
        book = self.books.get(data["s"])
        if book is None:
            return
        if not book.synced:
            book.buffer.append(data)
            book.arrived.set()
        else:
            self._apply(data["s"], book, data, now)

    def _apply(self, symbol: str, book: LocalBook, event: Event, now: int) -> None:
        verdict = book.judge(event)
        if verdict is Verdict.GAP:
            self.resyncs += 1
            self.ctx.warn(f"depth gap on {symbol} at U={event['U']}: resyncing that book")
            self.resync(symbol).buffer.append(event)
        elif verdict is Verdict.APPLY:
            book.apply(event)
            self.batcher.pending.append(
                book_record(
                    self.market.exchange,
                    symbol,
                    kind="book_update",
                    bids=event["b"],
                    asks=event["a"],
                    ids=(event["U"], event["u"]),
                    event_time=event["E"],
                    now=now,
                )
            )

    def resync(self, symbol: str) -> LocalBook:
        """Fresh unsynced book buffering events, and a snapshot task (replacing any old one)."""
        book = self.books[symbol] = LocalBook(self.market.futures)
        if (old := self.syncs.get(symbol)) and old is not asyncio.current_task():
            old.cancel()
        self.syncs[symbol] = asyncio.get_running_loop().create_task(self._sync(symbol, book))
        return book

    async def _sync(self, symbol: str, book: LocalBook) -> None:
        snapshot = await self._usable_snapshot(symbol, book)
        book.load(snapshot)
        self.batcher.pending.append(
            book_record(
                self.market.exchange,
                symbol,
                kind="book_snapshot",
                bids=snapshot["bids"],
                asks=snapshot["asks"],
                ids=(None, book.last_id),
                event_time=snapshot.get("E", now_ms()),
                now=now_ms(),
            )
        )
        buffered, book.buffer = book.buffer, []
        for index, event in enumerate(buffered):
            if (current := self.books[symbol]) is not book:
                current.buffer.extend(buffered[index:])
                return
            self._apply(symbol, book, event, now_ms())

    async def _usable_snapshot(self, symbol: str, book: LocalBook) -> dict[str, Any]:
        """A snapshot no older than the first buffered event (else fetch again)."""
        while True:
            await book.arrived.wait()
            snapshot = await self._snapshot(symbol)
            if snapshot["lastUpdateId"] >= book.buffer[0]["U"]:
                return snapshot
            book.arrived.clear()

    async def _snapshot(self, symbol: str) -> dict[str, Any]:
        params = {"symbol": symbol, "limit": self.limit}
        while True:
            try:
                snapshot: dict[str, Any] = await self.client.get(
                    f"{self.market.api_prefix}/depth", params
                )
                return snapshot
            except (BinanceError, GaveUp) as error:  # a stream never gives up
                self.ctx.warn(f"depth snapshot for {symbol} failed, retrying: {error.message}")

    async def aclose(self) -> None:
        for task in self.syncs.values():
            await cancel_and_wait(task)
        await self.client.aclose()
