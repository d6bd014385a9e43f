"""The vocabulary: every target has its request model, and one rule says what streams."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter

from app.models.catalog import Target, is_stream
from app.models.queues import JobState, QueueCreate, queue_json
from app.models.requests import PipelineRequest
from app.services.pipeline import new_queue
from tests.seed_examples import BASIC


def test_every_target_has_exactly_one_request_model() -> None:
    mapping = TypeAdapter(PipelineRequest).json_schema()["discriminator"]["mapping"]
    assert set(mapping) == {target.value for target in Target}


@pytest.mark.parametrize(
    ("job_type", "streams"),
    [
        ("ws_trades", True),
        ("ws_candles_5m", True),
        ("ws_candles", True),
        ("graph_metrics_stream", True),
        ("api_candles_5m", False),
        ("api_agg_trades", False),
        ("gnn_train", False),
    ],
)
def test_is_stream(job_type: str, streams: bool) -> None:
    assert is_stream(job_type) is streams


def test_a_job_target_is_a_target_and_stored_as_its_name() -> None:
    queue = new_queue(QueueCreate.model_validate(BASIC), "q1")
    assert all(isinstance(job.target, Target) for job in queue.jobs)
    assert b'"target":"loader-producer"' in queue_json(queue)
    assert JobState.model_validate({"name": "n", "target": "visualizer", "type": "t"}).target is (
        Target.VISUALIZER
    )
