"""QueueCreate validation: seed examples pass; each rule fails with field and reason."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from app.api.errors import field_problems
from app.models.queues import QueueCreate
from app.services.pipeline import new_queue, pipeline_of
from tests.seed_examples import BASIC, HISTORICAL, REALTIME


def problems(body: dict[str, Any]) -> list[dict[str, str]]:
    with pytest.raises(ValidationError) as caught:
        QueueCreate.model_validate(body)
    return field_problems(caught.value.errors())


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, **changes}


@pytest.mark.parametrize("body", [BASIC, HISTORICAL, REALTIME], ids=["basic", "history", "rt"])
def test_seed_examples_are_accepted_as_written(body: dict[str, Any]) -> None:
    create = QueueCreate.model_validate(body)
    assert len(pipeline_of(create)) == len(body.get("requests", [])) or not body.get("requests")


def test_seed_collection_names_match_the_derived_topics() -> None:
    queue = new_queue(QueueCreate.model_validate(HISTORICAL), "q1")
    topics = {job.type: job.kafka_topic for job in queue.jobs if job.kafka_topic}
    assert topics["api_candles_5m"] == "btc_candles_5m_2024_06"
    assert topics["api_trades"] == "btc_trades_2024_06"
    realtime = new_queue(QueueCreate.model_validate(REALTIME), "q2")
    assert {j.kafka_topic for j in realtime.jobs} >= {"btc_ws_candles_1m_2024_08_01"}


def test_type_is_inferred_from_stream_requests() -> None:
    assert QueueCreate.model_validate(REALTIME).source_type == "ws"
    assert QueueCreate.model_validate(HISTORICAL).source_type == "api"


@pytest.mark.parametrize(
    ("source", "exchange", "expected"),
    [
        ("api", "binance", "api_candles_1m"),
        ("rest", "binance", "api_candles_1m"),
        ("ws", "binance", "ws_trades"),
        ("ws", "moex", "ws_candles"),
    ],
)
def test_default_pipeline_follows_type(source: str, exchange: str, expected: str) -> None:
    symbol = "SBER" if exchange == "moex" else "BTCUSDT"
    create = QueueCreate.model_validate(
        {
            "symbol": symbol,
            "type": source,
            "exchange": exchange,
            "time_range": "2024-01-01:2024-01-01",
        }
    )
    assert [(r.target, r.type) for r in pipeline_of(create)] == [
        ("loader-producer", expected),
        ("arango-connector", expected),
    ]


@pytest.mark.parametrize(
    ("body", "field", "reason_part"),
    [
        (with_(BASIC, symbol="BTC/USDT"), "symbol", "not a binance symbol"),
        (with_(BASIC, exchange="moex", type="ws", symbol="SB ER"), "symbol", "MOEX ticker"),
        (with_(BASIC, time_range="2024-02-30:2024-03-01"), "time_range", "not a real date"),
        (with_(BASIC, time_range="2024-03-02:2024-03-01"), "time_range", "after end"),
        (with_(BASIC, time_range="2024-03-02"), "time_range", "YYYY-MM-DD:YYYY-MM-DD"),
        (with_(BASIC, time_range="2000-01-01:2024-01-01"), "time_range", "longer than"),
        (with_(BASIC, type="ftp"), "type", "'api', 'ws' or 'rest'"),
        ({"type": "api", "time_range": "2024-01-01:2024-01-01"}, "symbol", "symbol or symbols"),
        (with_(BASIC, exchange="nyse"), "exchange", "binance"),
        (with_(BASIC, colour="red"), "colour", "unknown field"),
        (with_(BASIC, exchange="moex", symbol="SBER"), "type", "moex offers only streams"),
        (with_(BASIC, symbols=["ETHUSDT", "bad symbol"]), "symbols[1]", "not valid"),
        (with_(BASIC, symbols=["A1"] * 2001), "symbols", "at most 2000"),
        (with_(BASIC, symbol="X" * 30), "symbol", "at most 24"),
    ],
)
def test_queue_fields_are_validated(body: dict[str, Any], field: str, reason_part: str) -> None:
    found = problems(body)
    assert any(p["field"] == field and reason_part in p["reason"] for p in found), found


def req(**fields: Any) -> dict[str, Any]:
    return with_(BASIC, requests=[fields])


@pytest.mark.parametrize(
    ("body", "field", "reason_part"),
    [
        (req(target="cooker", type="x"), "requests[0].target", "loader-producer"),
        (req(target="loader-producer", type="api_candles_7m"), "requests[0].type", "intervals"),
        (req(target="loader-producer", type="ws_mark_price"), "requests[0].type", "futures"),
        (
            req(target="loader-producer", type="api_candles_5m", interval="1h"),
            "requests[0].interval",
            "disagrees",
        ),
        (
            req(target="arango-connector", type="api_candles_5m", collection="1bad"),
            "requests[0].collection",
            "pattern",
        ),
        (
            req(target="graph-builder", type="gnn_graph", collection_output="out"),
            "requests[0].collection_inputs",
            "required",
        ),
        (
            req(target="graph-builder", type="gnn_graph", collection_inputs=["a"]),
            "requests[0].collection_output",
            "required",
        ),
        (
            req(
                target="graph-builder",
                type="gnn_graph",
                collection_inputs=[],
                collection_output="o",
            ),
            "requests[0].collection_inputs",
            "at least 1",
        ),
        (
            req(
                target="graph-builder", type="bake", collection_inputs=["a"], collection_output="o"
            ),
            "requests[0].type",
            "unknown type",
        ),
        (
            req(target="gnn-trainer", type="gnn_train", graph_collection="g"),
            "requests[0].model_output",
            "required when type is gnn_train",
        ),
        (
            req(target="gnn-trainer", type="realtime_gnn_infer"),
            "requests[0].graph_collection",
            "required",
        ),
        (req(target="visualizer", type="graph_metrics_stream"), "requests[0].source", "required"),
        (
            req(target="visualizer", type="graph_metrics_stream", source="s", extra=1),
            "requests[0].extra",
            "unknown field",
        ),
    ],
)
def test_requests_are_validated_per_target(
    body: dict[str, Any], field: str, reason_part: str
) -> None:
    found = problems(body)
    assert any(p["field"] == field and reason_part in p["reason"] for p in found), found


def test_repeated_request_is_refused() -> None:
    body = with_(BASIC, requests=[{"target": "loader-producer", "type": "api_trades"}] * 2)
    assert problems(body) == [{"field": "requests[1]", "reason": "repeats requests[0]"}]


def test_request_list_is_bounded() -> None:
    many = [{"target": "loader-producer", "type": f"api_candles_{i}"} for i in ("1m", "5m")] * 11
    assert any(p["field"] == "requests" for p in problems(with_(BASIC, requests=many)))


def test_symbols_are_normalised_to_upper_case() -> None:
    create = QueueCreate.model_validate(with_(BASIC, symbol="btcusdt", symbols=["ethusdt"]))
    assert create.all_symbols == ["BTCUSDT", "ETHUSDT"]
