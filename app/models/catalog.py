"""What may be asked for: exchanges, targets, and the job types each target accepts.

Kept apart from the target *registry* (how a target runs, app/launchers/targets.py): this
module is the vocabulary of the API, that one is deployment configuration.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Exchange(StrEnum):
    BINANCE = "binance"
    BINANCE_FUTURES = "binance-futures"
    MOEX = "moex"


class Target(StrEnum):
    LOADER_PRODUCER = "loader-producer"
    ARANGO_CONNECTOR = "arango-connector"
    GRAPH_BUILDER = "graph-builder"
    GNN_TRAINER = "gnn-trainer"
    VISUALIZER = "visualizer"


class SourceType(StrEnum):
    """The top-level `type` of seed 002: where the data comes from."""

    API = "api"
    WS = "ws"
    REST = "rest"


KLINE_INTERVALS = (
    "1s",
    "1m",
    "3m",
    "5m",
    "15m",
    "30m",
    "1h",
    "2h",
    "4h",
    "6h",
    "8h",
    "12h",
    "1d",
    "3d",
    "1w",
    "1M",
)

STREAM_PREFIX = "ws_"
HISTORY_PREFIX = "api_"
"""Loader types read live streams (`ws_trades`) or load history over REST (`api_trades`)."""

_INTERVAL = "|".join(re.escape(i) for i in KLINE_INTERVALS)
BINANCE_LOADER_TYPES = re.compile(
    rf"^(api_candles_({_INTERVAL})|api_trades|api_agg_trades|ws_trades|ws_agg_trades"
    rf"|ws_candles_({_INTERVAL})|ws_ticker|ws_book_ticker|ws_depth|ws_mark_price)$"
)
MOEX_LOADER_TYPES = re.compile(r"^(ws_candles|ws_orderbooks|ws_securities)$")
FUTURES_ONLY_TYPES = frozenset({"ws_mark_price"})

_BINANCE_EXAMPLES = (
    "api_candles_1m",
    "api_candles_5m",
    "api_candles_1h",
    "api_candles_1d",
    "api_trades",
    "api_agg_trades",
    "ws_trades",
    "ws_agg_trades",
    "ws_candles_1m",
    "ws_ticker",
    "ws_book_ticker",
    "ws_depth",
)
LOADER_TYPE_EXAMPLES: dict[Exchange, tuple[str, ...]] = {
    Exchange.BINANCE: _BINANCE_EXAMPLES,
    Exchange.BINANCE_FUTURES: (*_BINANCE_EXAMPLES, "ws_mark_price"),
    Exchange.MOEX: ("ws_candles", "ws_orderbooks", "ws_securities"),
}
"""What a form suggests as loader (and connector) types; the patterns above decide."""

GRAPH_BUILDER_TYPES = ("gnn_graph", "realtime_graph")
GNN_TRAINER_TYPES = ("gnn_train", "realtime_gnn_infer")
VISUALIZER_TYPES = ("graph_metrics_stream",)

SYMBOL_PATTERNS: dict[Exchange, re.Pattern[str]] = {
    Exchange.BINANCE: re.compile(r"^[A-Z0-9]{2,20}$"),
    Exchange.BINANCE_FUTURES: re.compile(r"^[A-Z0-9]{2,20}(_[0-9]{6})?$"),
    Exchange.MOEX: re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,19}$"),
}
SYMBOL_HINTS: dict[Exchange, str] = {
    Exchange.BINANCE: "2-20 letters or digits, like BTCUSDT",
    Exchange.BINANCE_FUTURES: "2-20 letters or digits, optionally _YYMMDD, like BTCUSDT",
    Exchange.MOEX: "a MOEX ticker of 1-20 letters, digits, '.' or '-', like SBER",
}


def loader_type_error(exchange: Exchange, job_type: str) -> str | None:
    """Why `job_type` is not a loader type of `exchange`, or None when it is one."""
    if exchange is Exchange.MOEX:
        if MOEX_LOADER_TYPES.match(job_type):
            return None
        return "MOEX loader types are ws_candles, ws_orderbooks and ws_securities"
    if not BINANCE_LOADER_TYPES.match(job_type):
        return (
            "Binance loader types are api_candles_<interval>, api_trades, api_agg_trades, "
            "ws_trades, ws_agg_trades, ws_candles_<interval>, ws_ticker, ws_book_ticker, "
            f"ws_depth, ws_mark_price; intervals: {', '.join(KLINE_INTERVALS)}"
        )
    if job_type in FUTURES_ONLY_TYPES and exchange is not Exchange.BINANCE_FUTURES:
        return f"{job_type} exists only on binance-futures"
    return None


def is_stream(job_type: str) -> bool:
    """A live feed that runs until stopped (`ws_*` loads, the visualizer's stream); every
    other type is a bounded load that ends by itself."""
    return job_type.startswith(STREAM_PREFIX) or job_type in VISUALIZER_TYPES


def interval_of(job_type: str) -> str | None:
    """The candle interval named by a loader type (`api_candles_5m` -> `5m`)."""
    match = re.match(r"^(?:api|ws)_candles_(.+)$", job_type)
    return match.group(1) if match else None
