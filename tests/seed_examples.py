"""The two pipeline examples of seed 002, exactly as written there."""

HISTORICAL = {
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

REALTIME = {
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

BASIC = {"symbol": "BTCUSDT", "type": "api", "time_range": "2024-01-01:2024-01-03"}
BASIC_NO_RETRY = {
    **BASIC,
    "requests": [
        {"target": t, "type": "api_candles_1m", "retry": {"limit": 0}}
        for t in ("loader-producer", "arango-connector")
    ],
}
"""BASIC's default pipeline, spelled out, with the retries of failed jobs turned off (for
tests of how a failure itself is reported)."""
