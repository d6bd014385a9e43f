"""The health rules: a job's health from its reports and its silence, a queue's from its
jobs (app/services/health.py through app/services/transitions.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.models.health import Health, HealthState
from app.models.messages import RetryReport, Telemetry
from app.models.queues import QueueCreate, QueueState
from app.models.status import Status
from app.services import transitions
from app.services.pipeline import new_queue
from tests.seed_examples import BASIC

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
RETRY = RetryReport(attempt=3, max_attempts=20, last_error="GET http://x/klines: refused")


def queue() -> QueueState:
    q = new_queue(QueueCreate.model_validate(BASIC), "q-1")
    for job in q.jobs:
        transitions.mark_job(q, job.name, Status.STARTING)
        job.started_at = NOW
    return q


def report(q: QueueState, seq: int, job: int = 0, **fields: object) -> Telemetry:
    return Telemetry(queue_id=q.id, job=q.jobs[job].name, status=Status.LOADING, seq=seq, **fields)  # type: ignore[arg-type]


def test_a_report_with_retry_makes_job_and_queue_retrying_and_one_without_it_ok() -> None:
    q = queue()
    transitions.apply_telemetry(q, report(q, 1, retry=RETRY))
    job = q.jobs[0].health
    assert (job.state, job.attempt, job.max_attempts) == (HealthState.RETRYING, 3, 20)
    assert job.reason == "attempt 3 of 20 failed: GET http://x/klines: refused"
    assert q.health.state is HealthState.RETRYING and q.health.job == q.jobs[0].name
    assert str(q.health.reason).startswith("loader-producer (api_candles_1m): attempt 3 of 20")
    transitions.apply_telemetry(q, report(q, 2))
    assert q.jobs[0].health == q.health == Health()


def test_silence_stalls_a_running_job_in_whole_periods_and_a_report_clears_it() -> None:
    q = queue()
    assert not transitions.mark_stalled(q, NOW + timedelta(seconds=29), 30)
    assert transitions.mark_stalled(q, NOW + timedelta(seconds=31), 30)
    assert q.jobs[0].health.reason == "no telemetry for 30 s"
    assert not transitions.mark_stalled(q, NOW + timedelta(seconds=59), 30)  # same reason
    assert transitions.mark_stalled(q, NOW + timedelta(seconds=61), 30)
    assert q.jobs[0].health.reason == "no telemetry for 60 s"
    assert q.health.state is HealthState.STALLED
    transitions.apply_telemetry(q, report(q, 1))
    assert q.jobs[0].health.state is HealthState.OK
    assert q.health.state is HealthState.STALLED  # the other job is still silent


def test_an_old_report_leaves_a_job_stalled() -> None:
    q = queue()
    sent = datetime.now(UTC) - timedelta(seconds=100)
    transitions.apply_telemetry(q, report(q, 1, ts=sent), stall_after=30)
    assert q.jobs[0].health.state is HealthState.STALLED
    assert q.jobs[0].last_telemetry_at == sent


def test_a_report_stamped_in_the_future_counts_as_arrived_now() -> None:
    q = queue()
    transitions.apply_telemetry(q, report(q, 1, ts=datetime.now(UTC) + timedelta(days=1)))
    assert q.jobs[0].last_telemetry_at is not None
    assert q.jobs[0].last_telemetry_at <= datetime.now(UTC)


def test_pending_and_ended_jobs_never_stall_and_ended_jobs_are_ok() -> None:
    q = new_queue(QueueCreate.model_validate(BASIC), "q-1")
    assert not transitions.mark_stalled(q, NOW + timedelta(days=1), 30)  # pending
    q = queue()
    transitions.apply_telemetry(q, report(q, 1, retry=RETRY))
    transitions.mark_job(q, q.jobs[0].name, Status.ERROR, "exit code 1")
    assert q.jobs[0].health.state is HealthState.OK
    transitions.mark_stalled(q, datetime.now(UTC) + timedelta(days=1), 30)
    assert q.jobs[0].health.state is HealthState.OK  # ended: never stalled
    assert q.jobs[1].health.state is HealthState.STALLED


def test_a_failed_job_beside_a_running_one_degrades_the_queue_until_all_ended() -> None:
    q = queue()
    transitions.apply_telemetry(q, report(q, 1, job=1, retry=RETRY))
    transitions.mark_job(q, q.jobs[0].name, Status.ERROR, "exit code 3\nlast line")
    assert q.health.state is HealthState.DEGRADED  # worse than the other's retrying
    assert q.health.reason == "loader-producer (api_candles_1m) failed: exit code 3 last line"
    assert q.health.job == q.jobs[0].name
    assert q.error_message is not None and q.error_message.startswith("loader-producer")
    transitions.mark_job(q, q.jobs[1].name, Status.ERROR, "exit code 1")
    assert q.status is Status.ERROR and q.health == Health()


def test_stalled_is_worse_than_retrying() -> None:
    q = queue()
    transitions.apply_telemetry(q, report(q, 1, retry=RETRY))
    transitions.mark_stalled(q, NOW + timedelta(seconds=31), 30)  # job 1 never reported
    assert q.health.state is HealthState.STALLED and q.health.job == q.jobs[1].name
