"""Dependencies, readiness, admission limits and one scheduling pass (pure parts)."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from app.config import parse_limits
from app.models.examples import HISTORICAL, REALTIME
from app.models.queues import QueueCreate, QueueState
from app.models.status import Status
from app.services.admission import Limits
from app.services.pipeline import new_queue
from app.services.scheduling import ADMISSION, plan

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def queue_of(body: dict[str, Any], queue_id: str = "q1", minute: int = 0) -> QueueState:
    queue = new_queue(QueueCreate(**body), queue_id)
    queue.created_at = NOW + timedelta(minutes=minute)
    return queue


def set_status(queue: QueueState, target: str, job_type: str, status: Status) -> None:
    job = next(j for j in queue.jobs if (j.target, j.type) == (target, job_type))
    job.status = status


def test_seed_002_edges_follow_from_the_names() -> None:
    assert QueueCreate(**HISTORICAL).edges() == [[], [], [], [], [2, 3], [4]]
    assert QueueCreate(**REALTIME).edges() == [[], [], [], [], [2, 3], [4], [4]]


def test_explicit_depends_on_replaces_the_inference_and_external_inputs_make_no_edge() -> None:
    body = copy.deepcopy(HISTORICAL)
    body["requests"][4]["depends_on"] = [0]
    body["requests"][5]["graph_collection"] = "made_elsewhere"
    assert QueueCreate(**body).edges()[4:] == [[0], []]


@pytest.mark.parametrize(
    ("index", "depends_on", "field"),
    [
        (0, [6], "requests[0].depends_on"),
        (1, [1], "requests[1].depends_on"),
        (2, [5], "requests[2].depends_on"),
    ],
)
def test_out_of_range_self_and_cycles_are_refused_naming_the_field(
    index: int, depends_on: list[int], field: str
) -> None:
    body = copy.deepcopy(HISTORICAL)
    body["requests"][index]["depends_on"] = depends_on
    with pytest.raises(ValidationError, match=re.escape(field)):
        QueueCreate(**body)


def test_a_new_queue_names_its_dependencies_and_says_what_each_job_waits_for() -> None:
    queue = queue_of(HISTORICAL)
    builder, trainer = queue.jobs[4], queue.jobs[5]
    assert builder.depends_on == [queue.jobs[2].name, queue.jobs[3].name]
    assert trainer.waiting_for == "waiting for graph-builder · gnn_graph to finish"
    assert queue.jobs[0].waiting_for == ADMISSION


def test_a_pass_launches_what_is_ready_and_skips_the_dependents_of_a_failure() -> None:
    queue = queue_of(HISTORICAL)
    first = plan([queue], Limits(), NOW).queues[0]
    assert first.launch == [job.name for job in queue.jobs[:4]]
    assert queue.jobs[4].name not in first.waiting  # its sentence is already right
    for job in queue.jobs[:4]:
        job.status = Status.FINISHED
    set_status(queue, "arango-connector", "api_trades", Status.ERROR)
    second = plan([queue], Limits(), NOW).queues[0]
    assert second.launch == []
    assert second.skip == {
        queue.jobs[4].name: "skipped: arango-connector · api_trades failed",
        queue.jobs[5].name: "skipped: graph-builder · gnn_graph was skipped",
    }


def test_a_realtime_input_is_ready_once_its_producer_loads_records() -> None:
    queue = queue_of(REALTIME)
    for job in queue.jobs[:4]:
        job.status = Status.LOADING
    assert plan([queue], Limits(), NOW).queues[0].launch == []
    for job in queue.jobs[2:4]:
        job.records_written = 1
    assert plan([queue], Limits(), NOW).queues[0].launch == [queue.jobs[4].name]


def test_limits_admit_first_come_first_served_and_say_how_full_they_are() -> None:
    short = {"symbol": "BTCUSDT", "type": "api", "time_range": "2024-01-01:2024-01-03"}
    older, newer = queue_of(short, "q-old", 0), queue_of(short, "q-new", 1)
    limits = Limits(max_running=3, loaders={"binance": 1})
    decided = plan([newer, older], limits, NOW)
    launched = [
        (p.queue.id, p.queue.job(name).target)  # type: ignore[union-attr]
        for p in decided.queues
        for name in p.launch
    ]
    assert launched == [
        ("q-old", "loader-producer"),
        ("q-old", "arango-connector"),
        ("q-new", "arango-connector"),
    ]
    loader = newer.jobs[0].name
    assert decided.queues[1].waiting[loader] == "waiting for a slot: 1 of 1 binance loaders running"
    assert decided.slots.in_use["all"] == 3 and decided.waiting["slot"] == 1


def test_running_jobs_of_the_store_hold_slots_and_retry_times_are_respected() -> None:
    short = {"symbol": "BTCUSDT", "type": "api", "time_range": "2024-01-01:2024-01-03"}
    running, waiting = queue_of(short, "q1", 0), queue_of(short, "q2", 1)
    running.jobs[0].status = Status.LOADING
    running.jobs[1].status = Status.STOPPING
    waiting.jobs[0].not_before = NOW + timedelta(seconds=30)
    waiting.jobs[0].waiting_for = "retrying in 30 s (attempt 2 of 4): boom"
    decided = plan([running, waiting], Limits(max_running=2), NOW)
    assert decided.queues[0].queue.id == "q2"
    assert decided.queues[0].waiting == {
        waiting.jobs[1].name: "waiting for a slot: 2 of 2 jobs running"
    }
    assert decided.wake_at == NOW + timedelta(seconds=30)
    assert decided.waiting["retry"] == 1


def test_limit_lists_parse_and_refuse_nonsense() -> None:
    assert parse_limits("binance=8, moex=2") == {"binance": 8, "moex": 2}
    assert parse_limits("") == {}
    with pytest.raises(ValueError, match="name=count"):
        parse_limits("binance=lots")
