"""`loaders`: the exchange loaders on loopback against their protocol fakes.

Binance: messages/s through receive, orjson parse, normalise, batch and sink, next to a raw
`websockets` receive loop on the same fake server in the same run (bench/loaders_binance.py).
MOEX: time until 1500 tickers are subscribed over 30 connections, and until all are back
after the server drops every connection (bench/loaders_moex.py).
"""

from __future__ import annotations

from bench import loaders_binance, loaders_moex
from bench.report import Row

TARGET_RATIO = 0.5
TARGET_RATE = 50_000


def binance_rows(figures: dict[str, float]) -> list[Row]:
    loader, raw = figures["loader_msgs_per_s"], figures["raw_msgs_per_s"]
    return [
        Row("loaders/binance", "raw websockets receive loop", raw, "msg/s"),
        Row(
            "loaders/binance",
            "stream loader: parse, normalise, sink",
            loader,
            "msg/s",
            raw,
            f">= {TARGET_RATIO:g} x raw, >= {TARGET_RATE:,} msg/s",
            loader / raw >= TARGET_RATIO and loader >= TARGET_RATE,
        ),
    ]


def run(seconds: float = 5.0) -> list[Row]:
    binance = loaders_binance.run(min(seconds, 10.0))
    return binance_rows(binance) + loaders_moex.rows(loaders_moex.run())
