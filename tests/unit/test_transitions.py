"""Telemetry and launcher reports applied to a queue: seq dedupe, terminal jobs, stop."""

from __future__ import annotations

from typing import Any

from app.models.catalog import Target
from app.models.messages import Telemetry
from app.models.queues import QueueCreate, QueueState
from app.models.status import Status
from app.services import transitions
from app.services.pipeline import new_queue
from tests.seed_examples import BASIC


def queue() -> QueueState:
    return new_queue(QueueCreate.model_validate(BASIC), "q-1")


def report(q: QueueState, status: Status, seq: int, records: int = 0) -> Telemetry:
    return Telemetry(
        queue_id=q.id,
        job=q.jobs[0].name,
        status=status,
        seq=seq,
        records_written=records,
        last_loaded_timestamp=f"2024-01-01T00:0{seq}:00",
    )


def test_telemetry_moves_job_and_queue() -> None:
    q = queue()
    assert transitions.apply_telemetry(q, report(q, Status.LOADING, 0, records=10))
    assert (q.jobs[0].status, q.status, q.records_written) == (Status.LOADING, Status.LOADING, 10)
    assert q.last_loaded_timestamp == "2024-01-01T00:00:00"


def test_duplicate_and_out_of_order_telemetry_change_nothing() -> None:
    q = queue()
    transitions.apply_telemetry(q, report(q, Status.LOADING, 5, records=50))
    before = q.model_dump()
    assert not transitions.apply_telemetry(q, report(q, Status.LOADING, 5, records=99))
    assert not transitions.apply_telemetry(q, report(q, Status.STARTING, 3, records=30))
    assert q.model_dump() == before


def test_telemetry_for_a_terminal_job_changes_nothing() -> None:
    q = queue()
    transitions.apply_telemetry(q, report(q, Status.FINISHED, 1, records=7))
    assert not transitions.apply_telemetry(q, report(q, Status.LOADING, 2, records=9))
    assert (q.jobs[0].status, q.jobs[0].records_written) == (Status.FINISHED, 7)


def test_telemetry_for_an_unknown_job_is_ignored() -> None:
    q = queue()
    stray = Telemetry(queue_id=q.id, job="nope", status=Status.LOADING, seq=1)
    assert not transitions.apply_telemetry(q, stray)


def test_all_jobs_finished_finishes_the_queue() -> None:
    q = queue()
    for job in q.jobs:
        transitions.mark_job(q, job.name, Status.FINISHED)
    assert q.status is Status.FINISHED and q.finished_at is not None


def status_of(queue: QueueState) -> Status:
    """The status now (a call: mypy must not carry an earlier assert's narrowing over)."""
    return queue.status


def test_failed_job_fails_queue_with_its_message_once_all_ended() -> None:
    q = queue()
    transitions.mark_job(q, q.jobs[0].name, Status.ERROR, "boom")
    assert q.status is Status.PENDING or q.status is Status.LOADING
    transitions.mark_job(q, q.jobs[1].name, Status.FINISHED)
    assert status_of(q) is Status.ERROR
    assert q.error_message is not None and "boom" in q.error_message


def test_stop_stops_pending_jobs_at_once_and_running_ones_later() -> None:
    q = queue()
    transitions.mark_job(q, q.jobs[0].name, Status.LOADING)
    assert transitions.request_stop(q)
    assert [j.status for j in q.jobs] == [Status.STOPPING, Status.STOPPED]
    assert q.status is Status.STOPPING
    assert not transitions.request_stop(q)
    transitions.mark_job(q, q.jobs[0].name, Status.ERROR, "killed by SIGKILL")
    assert status_of(q) is Status.STOPPED


def test_a_job_that_finishes_while_stopping_counts_as_stopped() -> None:
    q = queue()
    transitions.mark_job(q, q.jobs[0].name, Status.LOADING)
    transitions.request_stop(q)
    transitions.apply_telemetry(q, report(q, Status.FINISHED, 1))
    assert q.jobs[0].status is Status.STOPPED


def test_coalescing_keeps_every_status_passed_and_the_newest_counters() -> None:
    from app.services.queue_service import coalesce

    q = queue()
    reports = [report(q, Status.LOADING, s, records=s) for s in (3, 1, 2)] + [
        report(q, Status.FINISHED, 4, records=40),
        report(q, Status.LOADING, 0),
    ]
    kept = coalesce(reports)
    assert [(r.seq, r.status) for r in kept] == [(0, Status.LOADING), (4, Status.FINISHED)]
    full, short = queue(), queue()
    for r in sorted(reports, key=lambda r: r.seq):
        transitions.apply_telemetry(full, r)
    for r in kept:
        transitions.apply_telemetry(short, r)
    times: dict[str, bool] = {"started_at": True, "finished_at": True}
    untimed: dict[str, Any] = {**times, "last_telemetry_at": True, "attempts": {"__all__": times}}
    assert short.jobs[0].model_dump(exclude=untimed) == full.jobs[0].model_dump(exclude=untimed)


def test_of_reports_sharing_a_seq_the_first_to_arrive_wins_whatever_comes_around_it() -> None:
    """A conflicting copy of a report (same seq) must not replace it: coalescing once kept
    the copy when the original was not the head of its status run."""
    from app.services.queue_service import _telemetry_change

    q = queue()
    original = report(q, Status.LOADING, 3, records=10)
    conflicting = report(q, Status.ERROR, 3, records=999)
    _telemetry_change([report(q, Status.LOADING, 2, records=5), original, conflicting])(q, [])
    assert (q.jobs[0].status, q.jobs[0].records_written, q.jobs[0].seq) == (
        Status.LOADING,
        10,
        3,
    )


def test_the_queue_total_stays_within_int64() -> None:
    from app.models.gaps import INT64_MAX

    q = queue()
    for job in q.jobs:
        job.target = Target.LOADER_PRODUCER
        job.records_written = INT64_MAX
    transitions.refresh(q)
    assert q.records_written == INT64_MAX
