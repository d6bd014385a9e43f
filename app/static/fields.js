// What the start form offers: exchanges, source types, targets and each target's fields.

export const EXCHANGES = ["binance", "binance-futures", "moex"];
export const SOURCE_TYPES = ["api", "ws", "rest"];

// name -> [label, kind]; "list" fields are comma-separated in the form, arrays in the body.
export const FIELDS = {
  interval: ["Interval", "text"],
  collection: ["Collection", "text"],
  collection_inputs: ["Input collections (comma-separated)", "list"],
  collection_output: ["Output collection", "text"],
  graph_collection: ["Graph collection", "text"],
  model_output: ["Model output", "text"],
  inference_interval: ["Inference interval", "text"],
  source: ["Source collection", "text"],
};

export const TARGETS = {
  "loader-producer": { fields: ["interval"], types: ["api_candles_5m", "api_trades", "ws_trades", "ws_candles_1m", "ws_candles", "ws_orderbooks"] },
  "arango-connector": { fields: ["collection"], types: ["api_candles_5m", "api_trades", "ws_trades", "ws_candles"] },
  "graph-builder": { fields: ["collection_inputs", "collection_output"], types: ["gnn_graph", "realtime_graph"] },
  "gnn-trainer": { fields: ["graph_collection", "model_output", "inference_interval"], types: ["gnn_train", "realtime_gnn_infer"] },
  visualizer: { fields: ["source"], types: ["graph_metrics_stream"] },
};
