"""A stream job's Batcher: a full batch is sent while the next fills, one batch in flight,
each acknowledged before the next is sent; flush waits for all; a failed send is raised."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

import pytest

from app.errors import BrokerUnavailable
from app.workers.base import JobContext
from app.workers.binance.batcher import Batcher
from app.workers.live_stats import LiveStats
from tests.fakes.binance_job import LocalJobContext, job_env
from tests.fixtures.eventually import eventually


class HeldSink:
    """Acknowledges a batch only when the test releases it (or fails it)."""

    def __init__(self) -> None:
        self.started: list[list[dict[str, Any]]] = []
        self.acked: list[list[dict[str, Any]]] = []
        self.release = asyncio.Event()
        self.arrived = asyncio.Event()
        self.failure: Exception | None = None
        self.most_in_flight = 0

    async def send(self, records: Sequence[dict[str, Any]], key_field: str = "symbol") -> None:
        self.started.append(list(records))
        self.most_in_flight = max(self.most_in_flight, len(self.started) - len(self.acked))
        self.arrived.set()
        await self.release.wait()
        self.release.clear()
        if self.failure is not None:
            raise self.failure
        self.acked.append(list(records))

    async def flush(self) -> None:
        return None


def record(n: int) -> dict[str, Any]:
    return {"symbol": "BTCUSDT", "kind": "trade", "event_time": 1_717_200_000_000 + n, "price": "1"}


def batcher() -> tuple[Batcher, HeldSink, LocalJobContext]:
    ctx = LocalJobContext(job_env("ws_agg_trades", "BTCUSDT"))
    sink = HeldSink()
    ctx.sink = sink  # type: ignore[assignment]
    return Batcher(cast(JobContext, ctx), 2, LiveStats()), sink, ctx


async def test_a_full_batch_is_sent_while_the_next_fills_and_waits_its_turn() -> None:
    made, sink, ctx = batcher()
    made.pending.extend([record(1), record(2)])
    await made.hand_off()
    await sink.arrived.wait()
    assert made.pending == [] and sink.acked == [], "sending, not yet acknowledged"
    made.pending.extend([record(3), record(4)])  # read while the first is in flight
    second = asyncio.create_task(made.hand_off())
    sink.release.set()
    await second
    flushing = asyncio.create_task(made.flush())
    await eventually(lambda: len(sink.started), lambda n: n == 2)
    sink.release.set()
    await flushing
    assert sink.most_in_flight == 1, "each batch acknowledged before the next is sent"
    assert [r["event_time"] for b in sink.acked for r in b] == [
        record(n)["event_time"] for n in (1, 2, 3, 4)
    ]
    assert made.written == 4 and ctx.progress_calls[-1][0] == 4
    assert made.stats.tickers["BTCUSDT"].updates == 4


async def test_a_failed_send_in_flight_is_raised_by_the_next_flush() -> None:
    made, sink, _ = batcher()
    made.pending.extend([record(1), record(2)])
    await made.hand_off()
    await sink.arrived.wait()
    sink.failure = BrokerUnavailable("records to topic not acknowledged")
    sink.release.set()
    with pytest.raises(BrokerUnavailable):
        await made.flush()
    assert made.written == 0
    await made.flush()  # reported once; nothing left in flight


async def test_a_reader_cancelled_while_waiting_leaves_the_batch_for_the_flush() -> None:
    made, sink, _ = batcher()
    made.pending.extend([record(1), record(2)])
    await made.hand_off()
    made.pending.extend([record(3), record(4)])
    waiting = asyncio.create_task(made.hand_off())
    await eventually(lambda: made._lock.locked(), what="the reader waiting for the batch")
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    flushing = asyncio.create_task(made.flush())
    sink.release.set()
    await eventually(lambda: len(sink.started), lambda n: n == 2)
    sink.release.set()
    await flushing
    assert [len(b) for b in sink.acked] == [2, 2], "the batch in flight was not cancelled"
