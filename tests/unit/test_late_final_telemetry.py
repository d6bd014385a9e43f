"""A job's final telemetry read after the launcher already saw the process exit."""

from __future__ import annotations

from app.models.messages import Telemetry
from app.models.queues import QueueCreate, QueueState
from app.models.status import Status
from app.services import transitions
from app.services.pipeline import new_queue
from tests.seed_examples import BASIC


def exited_queue() -> QueueState:
    """Both jobs reported loading, then their processes exited with code 0."""
    q = new_queue(QueueCreate.model_validate(BASIC), "q-1")
    for job in q.jobs:
        transitions.apply_telemetry(q, final(q, job.name, Status.LOADING, 0, 10))
        transitions.mark_job(q, job.name, Status.FINISHED)
    return q


def final(q: QueueState, job: str, status: Status, seq: int, records: int) -> Telemetry:
    return Telemetry(
        queue_id=q.id,
        job=job,
        status=status,
        seq=seq,
        records_written=records,
        last_loaded_timestamp="2024-01-03T23:55:00.000Z",
    )


def test_the_final_report_still_brings_its_counters() -> None:
    q = exited_queue()
    loader = q.jobs[0]
    assert transitions.apply_telemetry(q, final(q, loader.name, Status.FINISHED, 3, 576))
    assert (loader.status, loader.records_written, q.records_written) == (Status.FINISHED, 576, 576)
    assert q.status is Status.FINISHED


def test_its_status_never_changes_the_ended_job() -> None:
    q = exited_queue()
    loader = q.jobs[0]
    transitions.apply_telemetry(q, final(q, loader.name, Status.ERROR, 3, 576))
    assert loader.status is Status.FINISHED and q.status is Status.FINISHED


def test_a_late_loading_report_or_a_replay_changes_nothing() -> None:
    q = exited_queue()
    loader = q.jobs[0]
    assert not transitions.apply_telemetry(q, final(q, loader.name, Status.LOADING, 2, 99))
    assert transitions.apply_telemetry(q, final(q, loader.name, Status.FINISHED, 3, 576))
    assert not transitions.apply_telemetry(q, final(q, loader.name, Status.FINISHED, 3, 700))
    assert loader.records_written == 576
