"""MOEX part of the `loaders` benchmark, on loopback against the protocol fake.

Measures how long the loader takes to get 1500 tickers subscribed over 30 connections
(target under 5 s) and to restore all of them after the server drops every connection at
once (target under 3 s), with the production defaults (subscribe delay, backoff). The
baseline, measured in the same run, is one connection with 50 tickers: the per-connection
floor, so the ratio shows what running 30 in parallel costs.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from app.workers.moex import loader
from app.workers.moex.loader import LoaderOptions
from bench.report import Row
from tests.fakes.moex_job import JobContextForTests, moex_env
from tests.fakes.moex_stomp import FakeMoexServer

TICKERS = 1500
PER_CONNECTION = 50
TARGET_SUBSCRIBE_S = 5.0
TARGET_RECOVER_S = 3.0


async def _measure(tickers: int, options: LoaderOptions, *, drop: bool) -> dict[str, float]:
    names = [f"T{n:04d}" for n in range(tickers)]
    async with FakeMoexServer() as server:
        ctx = JobContextForTests(moex_env(server.url, "ws_candles", names))
        started = time.perf_counter()
        task = asyncio.create_task(loader.run(ctx, options))
        try:
            await server.wait_until(lambda: server.active_subscriptions == tickers, 30)
            figures = {"subscribe_s": time.perf_counter() - started}
            if drop:
                figures["recover_s"] = await _recover(server, tickers)
        finally:
            ctx.stop_requested.set()
            await asyncio.wait({task}, timeout=5)
        return figures


async def _recover(server: FakeMoexServer, tickers: int) -> float:
    """Drop every connection; time until each ticker is subscribed again on a new one."""
    connections = server.connections_total
    dropped_at = time.perf_counter()
    server.drop_all()
    await server.wait_until(
        lambda: (
            server.connections_total >= 2 * connections
            and server.active_subscriptions == tickers
            and max(server.subscriptions.values()) == 1
        ),
        30,
    )
    return time.perf_counter() - dropped_at


async def _bench() -> dict[str, Any]:
    options = LoaderOptions(tickers_per_connection=PER_CONNECTION)
    baseline = await _measure(PER_CONNECTION, options, drop=False)
    full = await _measure(TICKERS, options, drop=True)
    return {
        "tickers": TICKERS,
        "connections": TICKERS // PER_CONNECTION,
        "subscribe_delay_s": options.subscribe_delay,
        "backoff_initial_s": options.backoff_initial,
        "baseline_one_connection_subscribe_s": round(baseline["subscribe_s"], 3),
        "subscribe_all_s": round(full["subscribe_s"], 3),
        "recover_after_drop_all_s": round(full["recover_s"], 3),
        "subscribe_vs_baseline_ratio": round(full["subscribe_s"] / baseline["subscribe_s"], 2),
        "subscribe_target_s": TARGET_SUBSCRIBE_S,
        "recover_target_s": TARGET_RECOVER_S,
        "subscribe_ok": full["subscribe_s"] < TARGET_SUBSCRIBE_S,
        "recover_ok": full["recover_s"] < TARGET_RECOVER_S,
    }


def rows(figures: dict[str, Any]) -> list[Row]:
    """The figures as rows of the shared benchmark table (bench/report.py)."""
    baseline = figures["baseline_one_connection_subscribe_s"]
    return [
        Row(
            "loaders/moex",
            "subscribe 1500 tickers, 30 connections",
            figures["subscribe_all_s"],
            "s",
            baseline,
            f"< {TARGET_SUBSCRIBE_S:g} s",
            figures["subscribe_ok"],
        ),
        Row(
            "loaders/moex",
            "recover after dropping all 30",
            figures["recover_after_drop_all_s"],
            "s",
            baseline,
            f"< {TARGET_RECOVER_S:g} s",
            figures["recover_ok"],
        ),
    ]


def run() -> dict[str, Any]:
    """Run the benchmark in a fresh event loop and return its figures."""
    return asyncio.run(_bench())


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
