"""demo-job: synthetic records so newcomers and end-to-end tests can watch a pipeline.

DEMO_JSON (set per target in the registry's `env`), else REQUEST_JSON: {"records": N,
"interval_ms": M, "batch": B, "fail": "message", "ignore_stop": false}. Records go to
KAFKA_TOPIC keyed by symbol; with "fail" the job raises after half of them;
"ignore_stop" makes it deaf to stops (tests the runtime bound).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from app.workers.base import JobContext


@dataclass(frozen=True)
class DemoRequest:
    records: int = 10
    interval_ms: int = 0
    batch: int = 100
    fail: str | None = None
    ignore_stop: bool = False

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> DemoRequest:
        return cls(
            records=int(raw.get("records", 10)),
            interval_ms=int(raw.get("interval_ms", 0)),
            batch=max(1, int(raw.get("batch", 100))),
            fail=raw.get("fail") or None,
            ignore_stop=bool(raw.get("ignore_stop", False)),
        )


def demo_record(index: int, symbol: str) -> dict[str, Any]:
    now_ms = int(time.time() * 1000)
    return {
        "id": f"demo-{symbol}-{index}",
        "kind": "demo",
        "exchange": "demo",
        "symbol": symbol,
        "seq": index,
        "price": f"{100 + index % 50}.5",
        "event_time": now_ms,
        "received_time": now_ms,
    }


def demo_batch(start: int, count: int, symbols: list[str]) -> list[dict[str, Any]]:
    """Records start..start+count, symbols taken round-robin."""
    indexes = range(start, start + count)
    return [demo_record(i, symbols[i % len(symbols)]) for i in indexes]


async def pause(ctx: JobContext, request: DemoRequest) -> None:
    """Wait interval_ms, returning early on a stop unless told to ignore stops."""
    seconds = request.interval_ms / 1000
    if request.ignore_stop:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(ctx.stop_requested.wait(), seconds)


def should_stop(ctx: JobContext, request: DemoRequest) -> bool:
    return ctx.stop_requested.is_set() and not request.ignore_stop


async def main(ctx: JobContext) -> None:
    """Produce the requested records in batches, reporting progress after each batch."""
    override = os.environ.get("DEMO_JSON")
    request = DemoRequest.parse(orjson.loads(override) if override else ctx.env.request)
    symbols = ctx.env.symbol_list or ["DEMO"]
    written = 0
    while written < request.records and not should_stop(ctx, request):
        if request.fail and written >= request.records // 2:
            raise RuntimeError(request.fail)
        count = min(request.batch, request.records - written)
        await ctx.sink.send(demo_batch(written, count, symbols))
        written += count
        ctx.progress(written, datetime.now(UTC).isoformat())
        await pause(ctx, request)
    if request.fail and not should_stop(ctx, request):
        raise RuntimeError(request.fail)
