"""The request bodies Swagger offers for POST /queues/start: seed 002's, exactly as written.

Seed 002's two pipelines include the ML targets (graph-builder, gnn-trainer, visualizer).
They are external images: in a cluster they run as those images; embedded, they have no
local command, so those examples run once TARGETS_FILE registers one for each.
"""

from __future__ import annotations

from typing import Any

SHORT: dict[str, Any] = {"symbol": "BTCUSDT", "type": "api", "time_range": "2024-01-01:2024-01-03"}

HISTORICAL: dict[str, Any] = {
    "symbol": "BTCUSDT",
    "time_range": "2024-06-01:2024-06-30",
    "requests": [
        {"target": "loader-producer", "type": "api_candles_5m", "interval": "5m"},
        {"target": "loader-producer", "type": "api_trades"},
        {"target": "arango-connector", "type": "api_candles_5m"},
        {"target": "arango-connector", "type": "api_trades"},
        {
            "target": "graph-builder",
            "type": "gnn_graph",
            "collection_inputs": ["btc_candles_5m_2024_06", "btc_trades_2024_06"],
            "collection_output": "btc_graph_2024_06",
        },
        {
            "target": "gnn-trainer",
            "type": "gnn_train",
            "graph_collection": "btc_graph_2024_06",
            "model_output": "gnn_model_btc_2024_06",
        },
    ],
}

REALTIME: dict[str, Any] = {
    "symbol": "BTCUSDT",
    "time_range": "2024-08-01:2024-08-01",
    "requests": [
        {"target": "loader-producer", "type": "ws_candles_1m"},
        {"target": "loader-producer", "type": "ws_trades"},
        {"target": "arango-connector", "type": "ws_candles_1m"},
        {"target": "arango-connector", "type": "ws_trades"},
        {
            "target": "graph-builder",
            "type": "realtime_graph",
            "collection_inputs": ["btc_ws_candles_1m_2024_08_01", "btc_ws_trades_2024_08_01"],
            "collection_output": "btc_graph_rt_2024_08_01",
        },
        {
            "target": "gnn-trainer",
            "type": "realtime_gnn_infer",
            "graph_collection": "btc_graph_rt_2024_08_01",
            "inference_interval": "5m",
        },
        {
            "target": "visualizer",
            "type": "graph_metrics_stream",
            "source": "btc_graph_rt_2024_08_01",
        },
    ],
}

MOEX: dict[str, Any] = {
    "exchange": "moex",
    "symbols": ["SBER", "GAZP", "LKOH"],
    "type": "ws",
    "time_range": "2024-08-01:2024-08-01",
}

_ML_NOTE = (
    " Embedded (`make run`), {targets} have no local command: register one for each in "
    "TARGETS_FILE, or the start is refused. In a cluster they run as their images."
)

START_EXAMPLES: dict[str, dict[str, Any]] = {
    "short": {
        "summary": "seed 002 QueueCreate: the default pipeline of a type",
        "description": "A loader and a connector of `api_candles_1m`; runs as it is.",
        "value": SHORT,
    },
    "historical": {
        "summary": "seed 002: historical data pipeline",
        "description": "Candles and trades of June 2024 into ArangoDB, a graph, a trained GNN."
        + _ML_NOTE.format(targets="graph-builder and gnn-trainer"),
        "value": HISTORICAL,
    },
    "realtime": {
        "summary": "seed 002: real-time data pipeline",
        "description": "Candle and trade streams into ArangoDB, a live graph, GNN inference "
        "and graph metrics." + _ML_NOTE.format(targets="graph-builder, gnn-trainer and visualizer"),
        "value": REALTIME,
    },
    "moex": {
        "summary": "MOEX candle stream for three tickers",
        "description": "The default MOEX pipeline (`ws_candles`); runs as it is.",
        "value": MOEX,
    },
}
