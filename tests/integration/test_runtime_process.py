"""`python -m app.workers` as a real process: signals, exit codes, a broker that comes late."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from app.bus.embedded import EmbeddedBroker, free_port
from app.bus.kafka import KafkaBus
from app.config import Settings
from app.exit_codes import ExitCode
from app.launchers.base import JobSpec
from app.launchers.k8s_render import render_job
from app.launchers.targets import default_registry
from tests.fixtures.broker import RunningBroker
from tests.fixtures.jobs import JobTopics, job_topics, read_telemetry

ROOT = Path(__file__).parents[2]
RETRYING_KAFKA = '"retrying": "connect to Kafka"'  # the log line of a scheduled retry


@pytest.fixture
def topics(broker: RunningBroker, topic_prefix: str) -> JobTopics:
    return job_topics(broker.bootstrap, topic_prefix)


async def start_job(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.workers",
        *args,
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(process: asyncio.subprocess.Process, within: float) -> tuple[int, str]:
    _, stderr = await asyncio.wait_for(process.communicate(), within)
    assert process.returncode is not None
    return process.returncode, stderr.decode()


async def read_until(process: asyncio.subprocess.Process, marker: str) -> None:
    """Read the job's stderr until a line contains `marker` (the job reached that point)."""
    assert process.stderr is not None
    while marker not in (line := (await process.stderr.readline()).decode()):
        assert line, f"stderr closed before {marker!r}"


async def test_sigterm_stops_a_running_job_with_exit_0(topics: JobTopics) -> None:
    env = topics.env_vars({"records": 10_000, "batch": 5, "interval_ms": 50})
    process = await start_job({**env, "STOP_TIMEOUT": "1"}, "demo-job")
    await read_telemetry(topics, until_status={"loading"}, within=8)
    process.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    code, stderr = await finish(process, within=5)
    assert code == 0, stderr
    assert time.monotonic() - sent < 1 + 2
    final = (await read_telemetry(topics))[-1]
    assert final["status"] == "stopped"
    assert final["records_written"] > 0


async def test_a_failing_job_exits_1_with_error_telemetry(topics: JobTopics) -> None:
    process = await start_job(topics.env_vars({"records": 4, "fail": "boom"}), "demo-job")
    code, stderr = await finish(process, within=8)
    assert code == 1
    records = [json.loads(line) for line in stderr.splitlines()]  # every line is JSON
    (failed,) = [r for r in records if r["event"] == "job failed"]
    assert failed["exception"].endswith("RuntimeError: boom")
    final = (await read_telemetry(topics))[-1]
    assert (final["status"], final["error_message"]) == ("error", "boom")


async def test_a_job_logs_like_the_service_with_secrets_redacted(topics: JobTopics) -> None:
    failing = {"records": 4, "fail": "login refused: password=hunter2"}
    code, stderr = await finish(await start_job(topics.env_vars(failing), "demo-job"), within=8)
    assert code == 1
    assert "hunter2" not in stderr and "password=***" in stderr
    records = [json.loads(line) for line in stderr.splitlines()]
    assert {r["logger"] for r in records} >= {"app.workers.runtime", "app.workers.telemetry"}
    assert all(r["timestamp"].endswith("Z") for r in records), "UTC like the service"


async def test_an_unknown_target_exits_2_with_the_known_ones(topics: JobTopics) -> None:
    code, stderr = await finish(await start_job(topics.env_vars(), "no-such-job"), within=8)
    assert code == 2
    assert "unknown target 'no-such-job'" in stderr and "demo-job" in stderr


@pytest.mark.parametrize(
    "broken",
    [{"TELEMETRY_INTERVAL_SECONDS": "soon"}, {"QUEUE_ID": ""}, {"CA_PATH": "/nonexistent/ca.pem"}],
    ids=["invalid-value", "missing-identity", "unreadable-ca"],
)
async def test_a_bad_configuration_exits_2_so_the_job_fails_at_once(
    topics: JobTopics, broken: dict[str, str]
) -> None:
    """Exit 2 is the code the Job's podFailurePolicy fails on without retrying the pod."""
    env = {**topics.env_vars(), "KAFKA_SECURITY_PROTOCOL": "SSL", **broken}
    if "CA_PATH" not in broken:
        env["KAFKA_SECURITY_PROTOCOL"] = "PLAINTEXT"
    env = {k: v for k, v in env.items() if v}
    code, stderr = await finish(await start_job(env, "demo-job"), within=15)
    assert code == ExitCode.BAD_CONFIG, stderr[-2000:]
    assert render_job_rule_values() == [2]


def render_job_rule_values() -> list[int]:
    spec = JobSpec("q", "qm-q", "loader-producer", "api_candles_1m")
    job = render_job(spec, default_registry()["loader-producer"], Settings(_env_file=None))
    rule: dict[str, Any] = job["spec"]["podFailurePolicy"]["rules"][0]
    assert rule["action"] == "FailJob"
    return list(rule["onExitCodes"]["values"])


async def test_help_lists_the_job_settings_and_nothing_of_the_service() -> None:
    process = await start_job({}, "--help")
    stdout, _ = await asyncio.wait_for(process.communicate(), 15)
    text = stdout.decode()
    assert process.returncode == 0
    for name in ("QUEUE_ID", "KAFKA_SECURITY_PROTOCOL", "CA_PATH", "ARANGO_URL", "STOP_TIMEOUT"):
        assert name in text
    for name in ("API_TOKENS", "K8S_SECRET_NAME", "PORT", "JOB_LAUNCHER", "WS_HEARTBEAT"):
        assert name not in text


async def test_a_job_creates_its_data_topic_with_the_configured_partitions(
    topics: JobTopics,
) -> None:
    env = {**topics.env_vars({"records": 3}), "KAFKA_TOPIC_PARTITIONS": "2"}
    code, stderr = await finish(await start_job(env, "demo-job"), within=20)
    assert code == 0, stderr[-2000:]
    bus = KafkaBus(Settings(_env_file=None, kafka_bootstrap_servers=topics.bootstrap))
    await bus.start()
    try:
        assert await bus.partitions_for(topics.records) == {0, 1}
    finally:
        await bus.stop()


async def test_a_job_waits_for_a_broker_that_comes_up_late(
    topic_prefix: str, tmp_path: Path
) -> None:
    late = EmbeddedBroker(tmp_path / "tansu.log", port=free_port())
    topics = job_topics(late.bootstrap, topic_prefix)
    process = await start_job(
        {**topics.env_vars({"records": 3}), "BROKER_CONNECT_TIMEOUT": "8"}, "demo-job"
    )
    try:
        await asyncio.wait_for(read_until(process, RETRYING_KAFKA), 8)
        await late.start()
        code, stderr = await finish(process, within=8)
        assert code == 0, stderr
        assert (await read_telemetry(topics))[-1]["status"] == "finished"
    finally:
        await late.stop()


async def test_sigterm_while_the_broker_is_unreachable_exits_0_at_once(
    topic_prefix: str,
) -> None:
    topics = job_topics(f"127.0.0.1:{free_port()}", topic_prefix)
    process = await start_job({**topics.env_vars(), "BROKER_CONNECT_TIMEOUT": "30"}, "demo-job")
    await asyncio.wait_for(read_until(process, RETRYING_KAFKA), 8)
    process.send_signal(signal.SIGTERM)
    code, stderr = await finish(process, within=3)
    assert code == 0, stderr
    assert "stopped before Kafka was reachable" in stderr
