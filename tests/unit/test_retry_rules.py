"""Retries of failed jobs, pure: policies, backoff arithmetic, attempt names, and the retry
transition (app/services/retrying.py through app/services/transitions.py)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from app.launchers.targets import default_registry, load_registry, retry_defaults
from app.models.attempts import RetryPolicy
from app.models.catalog import Target
from app.models.health import HealthState
from app.models.messages import Telemetry
from app.models.queues import QueueCreate, QueueState, utcnow
from app.models.status import Status
from app.naming import MAX_K8S_NAME, attempt_name, job_name
from app.services import retrying, transitions
from app.services.pipeline import new_queue
from app.services.retrying import RetryRules
from app.workers.connector.loader_watch import LoaderEnd, loader_end_of
from tests.seed_examples import BASIC

RULES = RetryRules(retry_defaults(default_registry()))
FAST: dict[str, Any] = {"limit": 2, "backoff_seconds": 5, "factor": 3, "max_backoff_seconds": 30}


def queue(retry: dict[str, Any] | None = None) -> QueueState:
    body: dict[str, object] = {**BASIC}
    if retry is not None:
        loader = {"target": "loader-producer", "type": "api_candles_1m", "retry": retry}
        body["requests"] = [loader, {"target": "arango-connector", "type": "api_candles_1m"}]
    q = new_queue(QueueCreate.model_validate(body), "q-1")
    for job in q.jobs:
        transitions.mark_job(q, job.name, Status.STARTING)
    return q


def report(q: QueueState, status: Status, seq: int, attempt: int = 1, **fields: Any) -> Telemetry:
    return Telemetry(
        queue_id=q.id, job=q.jobs[0].name, status=status, seq=seq, attempt=attempt, **fields
    )


# --- policies and arithmetic ------------------------------------------------------------
@pytest.mark.parametrize(
    ("failed", "wait"), [(1, 10.0), (2, 20.0), (3, 40.0), (6, 320.0), (7, 600.0), (99, 600.0)]
)
def test_backoff_grows_by_the_factor_and_stops_at_the_cap(failed: int, wait: float) -> None:
    assert retrying.backoff_seconds(RetryPolicy(), failed) == wait


def test_backoff_of_huge_exponents_is_the_cap() -> None:
    policy = RetryPolicy(limit=100, backoff_seconds=86_400, factor=10, max_backoff_seconds=7)
    assert retrying.backoff_seconds(policy, 100) == 7
    assert retrying.backoff_seconds(RetryPolicy(backoff_seconds=0), 3) == 0


def test_loaders_and_the_connector_retry_by_default_and_the_ml_targets_do_not() -> None:
    limits = {target: policy.limit for target, policy in RULES.defaults.items()}
    assert limits == {
        Target.LOADER_PRODUCER: 3,
        Target.ARANGO_CONNECTOR: 3,
        Target.GRAPH_BUILDER: 0,
        Target.GNN_TRAINER: 0,
        Target.VISUALIZER: 0,
    }
    assert RULES.defaults[Target.LOADER_PRODUCER] == RetryPolicy(
        limit=3, backoff_seconds=10, factor=2, max_backoff_seconds=600
    )


def test_a_targets_file_entry_replaces_the_policy_and_without_one_does_not_retry(
    tmp_path: Path,
) -> None:
    path = tmp_path / "targets.json"
    entries = {"loader-producer": {"command": ["x"]}, "graph-builder": {"retry": {"limit": 5}}}
    path.write_text(json.dumps(entries))
    defaults = retry_defaults(load_registry(path))
    assert defaults[Target.LOADER_PRODUCER].limit == 0
    assert defaults[Target.GRAPH_BUILDER].limit == 5
    assert defaults[Target.ARANGO_CONNECTOR].limit == 3


def test_a_requests_retry_overrides_its_targets() -> None:
    q = queue(FAST)
    assert RULES.policy_of(q.jobs[0]) == RetryPolicy.model_validate(FAST)
    assert RULES.policy_of(q.jobs[1]).limit == 3


def test_attempt_names_are_deterministic_distinct_and_dns_labels() -> None:
    name = job_name("0f1c0a52-5b8e-4a47-9d1e-0c3f1f6b7e21", "loader-producer", "api_trades")
    assert attempt_name(name, 1) == name
    assert attempt_name(name, 2) == f"{name}-a2"
    long_a = job_name("q", "arango-connector", "x" * 47)
    long_b = job_name("q", "arango-connector", "x" * 46 + "y")
    names = {attempt_name(long_a, 12), attempt_name(long_b, 12), attempt_name(long_a, 13)}
    assert len(names) == 3
    assert all(len(n) <= MAX_K8S_NAME and n.endswith(("-a12", "-a13")) for n in names)


# --- the retry transition -----------------------------------------------------------------
def test_a_failure_with_attempts_left_waits_in_pending_and_says_why() -> None:
    q = queue()
    transitions.apply_telemetry(q, report(q, Status.LOADING, 0, last_loaded_timestamp="T1"), None)
    before = utcnow()
    assert transitions.apply_telemetry(
        q, report(q, Status.ERROR, 1, error_message="boom"), rules=RULES
    )
    job = q.jobs[0]
    assert (job.status, job.attempt, job.seq, job.error_message) == (Status.PENDING, 1, -1, None)
    assert [(a.attempt, a.status, a.error_message) for a in job.attempts] == [
        (1, Status.ERROR, "boom")
    ]
    assert job.attempts[0].finished_at is not None
    assert job.not_before is not None
    assert before + timedelta(seconds=10) <= job.not_before <= utcnow() + timedelta(seconds=10)
    assert job.waiting_for == "retrying in 10 s (attempt 2 of 4): boom"
    assert (job.health.state, job.health.attempt, job.health.max_attempts) == (
        HealthState.RETRYING,
        1,
        4,
    )
    assert (job.health.last_error, job.health.retry_at) == ("boom", job.not_before)
    assert job.last_loaded_timestamp == "T1", "the resume point is kept"
    assert q.status is Status.STARTING and q.health.state is HealthState.RETRYING
    assert retrying.launch_name(job) == f"{job.name}-a2"


def test_the_next_attempt_begins_on_its_report_and_the_old_attempts_are_ignored() -> None:
    q = queue()
    transitions.apply_telemetry(q, report(q, Status.ERROR, 7, error_message="boom"), rules=RULES)
    assert not transitions.apply_telemetry(q, report(q, Status.LOADING, 8, attempt=1))
    assert transitions.apply_telemetry(
        q, report(q, Status.LOADING, 0, attempt=2, records_written=5)
    )
    job = q.jobs[0]
    assert (job.status, job.attempt, job.health.state, job.waiting_for) == (
        Status.LOADING,
        2,
        HealthState.OK,
        None,
    )
    assert [(a.attempt, a.status) for a in job.attempts] == [
        (1, Status.ERROR),
        (2, Status.LOADING),
    ]
    assert not transitions.mark_job(q, job.name, Status.ERROR, "exit code 1", rules=RULES)
    assert transitions.mark_job(q, f"{job.name}-a2", Status.FINISHED)
    assert [(a.attempt, a.status) for a in job.attempts][-1] == (2, Status.FINISHED)


def test_used_up_attempts_fail_the_job_with_every_attempt_listed() -> None:
    q = queue(FAST)
    job = q.jobs[0]
    for attempt in (1, 2, 3):
        if attempt > 1:
            assert transitions.launched(q, job.name, attempt, f"pid-{attempt}")
        transitions.mark_job(
            q, retrying.run_name(job), Status.ERROR, f"exit {attempt}", rules=RULES
        )
    assert job.status is Status.ERROR and job.error_message == "exit 3"
    assert [(a.attempt, a.status, a.error_message) for a in job.attempts] == [
        (1, Status.ERROR, "exit 1"),
        (2, Status.ERROR, "exit 2"),
        (3, Status.ERROR, "exit 3"),
    ]
    assert (job.health.state, job.waiting_for, job.not_before) == (HealthState.OK, None, None)


def test_the_second_wait_is_longer_by_the_factor() -> None:
    q = queue(FAST)
    job = q.jobs[0]
    transitions.mark_job(q, job.name, Status.ERROR, "exit 1", rules=RULES)
    assert job.waiting_for == "retrying in 5 s (attempt 2 of 3): exit 1"
    transitions.launched(q, job.name, 2, "pid-2")
    transitions.mark_job(q, f"{job.name}-a2", Status.ERROR, "exit 1", rules=RULES)
    assert job.waiting_for == "retrying in 15 s (attempt 3 of 3): exit 1"


def test_a_bad_configuration_is_not_retried() -> None:
    q = queue()
    job = q.jobs[0]
    transitions.mark_job(q, job.name, Status.ERROR, "exit code 2", retryable=False, rules=RULES)
    assert job.status is Status.ERROR and len(job.attempts) == 1


def test_a_stop_during_the_wait_stops_the_job_and_nothing_retries() -> None:
    q = queue()
    job = q.jobs[0]
    transitions.mark_job(q, job.name, Status.ERROR, "exit code 1", rules=RULES)
    assert transitions.request_stop(q)
    assert (job.status, job.waiting_for, job.not_before, job.health.state) == (
        Status.STOPPED,
        None,
        None,
        HealthState.OK,
    )
    assert [a.status for a in job.attempts] == [Status.ERROR]


def test_a_job_being_stopped_that_fails_is_stopped_not_retried() -> None:
    q = queue()
    transitions.request_stop(q)
    job = q.jobs[0]
    transitions.mark_job(q, job.name, Status.ERROR, "exit code 1", rules=RULES)
    assert job.status is Status.STOPPED and len(job.attempts) == 1


def test_a_launch_recorded_after_its_attempt_failed_changes_nothing() -> None:
    q = queue()
    job = q.jobs[0]
    transitions.mark_job(q, job.name, Status.ERROR, "exit code 1", rules=RULES)
    waiting = job.model_copy(deep=True)
    assert not transitions.launched(q, job.name, 1, "pid-1")
    assert job == waiting


def test_a_failed_launch_of_a_retry_is_its_last_attempt() -> None:
    q = queue()
    job = q.jobs[0]
    transitions.mark_job(q, job.name, Status.ERROR, "exit code 1", rules=RULES)
    assert transitions.launch_failed(q, job.name, 2, "the cluster refused the Job")
    assert job.status is Status.ERROR
    assert [(a.attempt, a.status) for a in job.attempts] == [(1, Status.ERROR), (2, Status.ERROR)]


def test_the_queue_never_settles_as_error_while_a_retry_is_due() -> None:
    q = queue()
    loader, connector = q.jobs
    transitions.mark_job(q, connector.name, Status.FINISHED)
    transitions.mark_job(q, loader.name, Status.ERROR, "exit code 1", rules=RULES)
    assert q.status is not Status.ERROR and q.finished_at is None


# --- the connector waits while its loader is retried -----------------------------------
def test_a_connectors_loader_watch_ignores_a_failure_that_is_retried() -> None:
    def end(status: Status, attempt: int | None, max_attempts: int | None) -> LoaderEnd | None:
        report = Telemetry(
            queue_id="q",
            job="loader",
            status=status,
            seq=1,
            attempt=attempt,
            max_attempts=max_attempts,
            error_message="boom",
        )
        return loader_end_of(msgspec.json.encode(report), "q", "loader")

    assert end(Status.ERROR, 1, 4) is None, "attempt 2 comes"
    assert end(Status.ERROR, 4, 4) == LoaderEnd(Status.ERROR, "boom"), "the last attempt"
    assert end(Status.ERROR, None, None) == LoaderEnd(Status.ERROR, "boom"), "an older job"
    assert end(Status.FINISHED, 2, 4) == LoaderEnd(Status.FINISHED, "boom")
    assert end(Status.STOPPED, 1, 4) == LoaderEnd(Status.STOPPED, "boom")


def test_a_connector_whose_loader_failed_for_good_is_not_retried() -> None:
    """Its source is gone: another attempt would end the same way, attempts later."""
    q = queue({"limit": 0})
    loader, connector = q.jobs
    transitions.mark_job(q, loader.name, Status.ERROR, "exit code 1", rules=RULES)
    assert loader.status is Status.ERROR
    transitions.mark_job(q, connector.name, Status.ERROR, "source loader ended", rules=RULES)
    assert connector.status is Status.ERROR and len(connector.attempts) == 1


def test_a_connector_whose_loader_still_runs_is_retried() -> None:
    q = queue()
    connector = q.jobs[1]
    transitions.mark_job(q, connector.name, Status.ERROR, "exit code 1", rules=RULES)
    assert connector.status is Status.PENDING and connector.not_before is not None


def test_a_multi_symbol_history_load_counts_its_records_anew() -> None:
    one, several = queue(), queue()
    several.symbols = ["BTCUSDT", "ETHUSDT"]
    assert not retrying.loads_again(one, one.jobs[0])
    assert retrying.loads_again(several, several.jobs[0])
    assert not retrying.loads_again(several, several.jobs[1]), "a connector resumes"


def test_a_first_attempt_failing_before_its_launch_is_recorded_is_retried() -> None:
    """Its exit can reach the service before the launch record: it ran all the same."""
    q = new_queue(QueueCreate.model_validate(BASIC), "q-2")
    job = q.jobs[0]
    transitions.mark_job(q, job.name, Status.ERROR, "exit code 1", rules=RULES)
    assert (job.status, job.attempt, job.not_before is not None) == (Status.PENDING, 1, True)
    assert [(a.attempt, a.status) for a in job.attempts] == [(1, Status.ERROR)]
    assert not transitions.launched(q, job.name, 1, "pid-1"), "the late record changes nothing"
    assert retrying.launch_name(job) == f"{job.name}-a2"
