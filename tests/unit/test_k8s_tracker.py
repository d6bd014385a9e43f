"""Outcomes are reported once per Job state, whatever order and repetition events come in."""

from __future__ import annotations

from typing import Any

from app.aio import Backoff
from app.launchers.base import JobOutcome, JobPhase
from app.launchers.k8s_tracker import OutcomeTracker


def job(name: str, uid: str = "u1", *conditions: dict[str, str]) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "uid": uid, "annotations": {"streamforge.io/queue-id": "q1"}},
        "status": {"conditions": [{"status": "True", **c} for c in conditions]},
    }


COMPLETE = {"type": "Complete"}


def test_a_completed_job_is_reported_once() -> None:
    tracker = OutcomeTracker()
    assert tracker.seen(job("a")) is None
    assert tracker.seen(job("a", "u1", COMPLETE)) == JobOutcome("q1", "a", JobPhase.SUCCEEDED)
    assert tracker.seen(job("a", "u1", COMPLETE)) is None
    assert tracker.gone(job("a", "u1", COMPLETE)) is None


def test_a_running_job_deleted_is_missing() -> None:
    tracker = OutcomeTracker()
    tracker.seen(job("a"))
    assert tracker.gone(job("a")) == JobOutcome("q1", "a", JobPhase.MISSING, "job deleted")


def test_a_deleted_job_whose_end_was_missed_reports_its_end() -> None:
    failed = {"type": "Failed", "reason": "DeadlineExceeded"}
    outcome = OutcomeTracker().gone(job("a", "u1", failed))
    assert outcome == JobOutcome("q1", "a", JobPhase.FAILED, "DeadlineExceeded")


def test_a_recreated_job_is_a_new_job() -> None:
    tracker = OutcomeTracker()
    tracker.seen(job("a", "u1", COMPLETE))
    assert tracker.seen(job("a", "u2", COMPLETE)) is not None


def test_relist_reports_jobs_that_vanished_unseen() -> None:
    tracker = OutcomeTracker()
    tracker.relisted([job("a"), job("b")])
    outcomes = tracker.relisted([job("b", "u1", COMPLETE)])
    assert outcomes == [
        JobOutcome("q1", "a", JobPhase.MISSING, "job deleted"),
        JobOutcome("q1", "b", JobPhase.SUCCEEDED),
    ]
    assert tracker.relisted([job("b", "u1", COMPLETE)]) == []


def test_backoff_grows_to_its_cap_with_jitter() -> None:
    backoff = Backoff(initial=1.0, cap=8.0)
    delays = [backoff.next_delay() for _ in range(6)]
    ceilings = [1, 2, 4, 8, 8, 8]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
