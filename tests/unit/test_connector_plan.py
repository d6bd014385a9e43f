"""What a connector job does, from its environment: collection, group, when it ends."""

from __future__ import annotations

from typing import Any

import pytest

from app.errors import InvalidInput
from app.naming import job_name
from app.workers.base import JobEnv
from app.workers.connector.decoding import decode
from app.workers.connector.plan import ConnectorSettings, plan_of


def env(job_type: str = "api_candles_5m", **extra: Any) -> JobEnv:
    values = {
        "queue_id": "q-1",
        "target": "arango-connector",
        "job_type": job_type,
        "job_name": "qm-q1-arango-connector",
        "kafka_topic": "btc_candles_5m_2024_06",
        **extra,
    }
    return JobEnv.model_validate(values)


def test_the_collection_is_the_services_then_the_requests_then_the_topics() -> None:
    assert plan_of(env(), ConnectorSettings(collection="mine")).collection == "mine"
    asked = env(request_json='{"collection": "asked"}')
    assert plan_of(asked, ConnectorSettings()).collection == "asked"
    assert plan_of(env(), ConnectorSettings()).collection == "btc_candles_5m_2024_06"


def test_a_bounded_load_waits_for_its_loader_and_a_stream_does_not() -> None:
    plan = plan_of(env(), ConnectorSettings())
    assert plan.loader_job == job_name("q-1", "loader-producer", "api_candles_5m")
    assert plan.group == "connector-q-1-qm-q1-arango-connector"
    assert plan_of(env("ws_trades"), ConnectorSettings()).loader_job is None


@pytest.mark.parametrize("bad", [{"collection": "x; DROP"}, {"kafka_topic": ""}])
def test_a_bad_collection_or_a_missing_topic_is_refused(bad: dict[str, str]) -> None:
    settings = ConnectorSettings(collection=bad.get("collection", ""))
    with pytest.raises(InvalidInput):
        plan_of(env(kafka_topic=bad.get("kafka_topic", "t")), settings)


def test_decoding_keeps_json_objects_with_an_id_and_the_newest_market_time() -> None:
    decoded = decode(
        [
            b'{"id": "a", "open_time": 5}',
            b"junk",
            None,
            b'{"id": "b", "event_time": 9}',
            b'{"x": 1}',
        ]
    )
    assert [d["_key"] for d in decoded.documents] == ["a", "b"]
    assert (decoded.skipped, decoded.newest_ms) == (3, 9)
