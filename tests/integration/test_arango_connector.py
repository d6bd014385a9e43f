"""The arango-connector on the live embedded broker, writing SQLite document tables."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from aiokafka import TopicPartition

from app.bus.kafka import KafkaBus
from app.models.status import Status
from app.naming import job_name
from app.workers.arango_connector import connector
from app.workers.base import JobEnv
from app.workers.connector.end_offsets import confirmed_end_offsets
from app.workers.connector.plan import ConnectorSettings
from app.workers.runtime import RuntimeOptions, run_job_async
from tests.fixtures.documents import candle, loader_ended, produce, table_rows, wait_for_rows
from tests.fixtures.jobs import JobTopics, read_telemetry, stop_command

pytestmark = pytest.mark.timeout(15)
FAST = RuntimeOptions(stop_timeout=1, broker_connect_timeout=3, telemetry_retry_seconds=3)
SETTINGS = ConnectorSettings(collection="candles", connector_batch_size=50, connector_poll_ms=50)
HISTORY = "api_candles_5m"


def env_of(topics: JobTopics, db: Path, job_type: str = HISTORY) -> JobEnv:
    return topics.env(
        TARGET="arango-connector",
        JOB_TYPE=job_type,
        SQLITE_PATH=str(db),
        JOB_NAME=job_name(topics.queue_id, "arango-connector", job_type),
    )


def run(env: JobEnv, settings: ConnectorSettings = SETTINGS) -> asyncio.Task[int]:
    return asyncio.create_task(run_job_async(connector(settings), env, FAST))


async def committed(topics: JobTopics, env: JobEnv) -> int:
    """The sum of the offsets the connector's group has committed on the records topic."""
    probe = KafkaBus(env)
    await probe.start()
    consumer = probe.consumer([], group_id=f"connector-{env.queue_id}-{env.job_name}")
    try:
        await consumer.start()
        numbers = await probe.partitions_for(topics.records)
        offsets = [await consumer.committed(TopicPartition(topics.records, n)) for n in numbers]
        return sum(offset or 0 for offset in offsets)
    finally:
        await consumer.stop()
        await probe.stop()


async def test_redelivered_records_land_once_and_the_last_version_wins(
    topics: JobTopics, bus: KafkaBus, tmp_path: Path
) -> None:
    first = [candle(n) for n in range(120)]
    replays = [candle(n) for n in range(50)] + [candle(n, "1.5") for n in range(110, 120)]
    await produce(bus, topics.records, first + replays)
    await loader_ended(bus, topics.control, topics.queue_id, HISTORY)
    assert await asyncio.wait_for(run(env_of(topics, tmp_path / "qm.db")), 10) == 0
    rows = table_rows(tmp_path / "qm.db", "candles")
    expected = {r["id"]: {**r, "_key": r["id"]} for r in first[:110] + replays[-10:]}
    assert rows == expected
    final = (await read_telemetry(topics))[-1]
    assert (final["status"], final["records_written"]) == ("finished", 120)
    assert final["last_loaded_timestamp"] == "2024-06-01T09:55:00.000Z"


async def test_offsets_are_committed_only_after_the_write_and_a_restart_resumes(
    topics: JobTopics, bus: KafkaBus, tmp_path: Path
) -> None:
    db, env = tmp_path / "qm.db", env_of(topics, tmp_path / "qm.db")
    impatient = SETTINGS.model_copy(
        update={"connector_busy_timeout_ms": 100, "history_give_up_seconds": 1.0}
    )
    await produce(bus, topics.records, [candle(n) for n in range(300)])
    first = run(env, impatient)
    await wait_for_rows(db, "candles", 300)
    with sqlite3.connect(db, isolation_level=None) as blocker:
        blocker.execute("BEGIN IMMEDIATE")  # the file is locked: the next write must fail
        await produce(bus, topics.records, [candle(n) for n in range(300, 500)])
        assert await asyncio.wait_for(first, 8) == 1
        blocker.execute("ROLLBACK")
    assert await committed(topics, env) == 300 == len(table_rows(db, "candles"))
    await loader_ended(bus, topics.control, topics.queue_id, HISTORY)
    assert await asyncio.wait_for(run(env), 8) == 0
    assert sorted(table_rows(db, "candles")) == sorted(candle(n)["id"] for n in range(500))
    assert await committed(topics, env) == 500
    reports = await read_telemetry(topics)
    assert (reports[-1]["status"], reports[-1]["records_written"]) == ("finished", 200)
    retried = [r["retry"] for r in reports if r.get("retry")]
    assert retried and "write to collection candles" in retried[0]["last_error"], reports
    failed = next(r for r in reports if r["status"] == "error")
    assert "gave up on write to collection candles after failing for 1 s" in failed["error_message"]


async def test_it_ends_only_once_the_loader_finished_and_its_records_are_in(
    topics: JobTopics, bus: KafkaBus, tmp_path: Path
) -> None:
    job = run(env_of(topics, tmp_path / "qm.db"))
    await produce(bus, topics.records, [candle(n) for n in range(100)])
    await wait_for_rows(tmp_path / "qm.db", "candles", 100)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(job), 0.5)  # the loader is still running
    await produce(bus, topics.records, [candle(n) for n in range(100, 180)])
    await loader_ended(bus, topics.control, topics.queue_id, HISTORY)
    assert await asyncio.wait_for(job, 5) == 0
    assert len(table_rows(tmp_path / "qm.db", "candles")) == 180


async def test_a_failed_loader_fails_the_connector_after_draining(
    topics: JobTopics, bus: KafkaBus, tmp_path: Path
) -> None:
    await produce(bus, topics.records, [candle(n) for n in range(40)])
    await loader_ended(bus, topics.control, topics.queue_id, HISTORY, Status.ERROR, "HTTP 451")
    assert await asyncio.wait_for(run(env_of(topics, tmp_path / "qm.db")), 8) == 1
    assert len(table_rows(tmp_path / "qm.db", "candles")) == 40
    final = (await read_telemetry(topics))[-1]
    assert final["status"] == "error" and final["records_written"] == 40
    assert "source loader" in final["error_message"] and "HTTP 451" in final["error_message"]


async def test_another_queues_or_jobs_end_does_not_end_it(
    topics: JobTopics, bus: KafkaBus, tmp_path: Path
) -> None:
    job = run(env_of(topics, tmp_path / "qm.db"))
    await loader_ended(bus, topics.control, "another-queue", HISTORY)
    await loader_ended(bus, topics.control, topics.queue_id, "api_trades")
    await read_telemetry(topics, until_status={"loading"})
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(job), 0.7)
    await loader_ended(bus, topics.control, topics.queue_id, HISTORY)
    assert await asyncio.wait_for(job, 5) == 0


async def test_a_stream_connector_runs_until_stopped(
    topics: JobTopics, bus: KafkaBus, tmp_path: Path
) -> None:
    job = run(env_of(topics, tmp_path / "qm.db", job_type="ws_candles_1m"))
    await produce(bus, topics.records, [candle(n) for n in range(30)])
    await wait_for_rows(tmp_path / "qm.db", "candles", 30)
    await bus.send_json(topics.control, topics.queue_id, stop_command(topics.queue_id))
    assert await asyncio.wait_for(job, 3) == 0
    final = (await read_telemetry(topics))[-1]
    assert (final["status"], final["records_written"]) == ("stopped", 30)


async def test_records_without_a_json_id_are_skipped_with_a_warning(
    topics: JobTopics, bus: KafkaBus, tmp_path: Path
) -> None:
    junk: list[dict[str, object] | bytes] = [b"not json", b"[1, 2]", b'{"no": "id"}']
    await produce(bus, topics.records, [*junk, *(candle(n) for n in range(5))])
    await loader_ended(bus, topics.control, topics.queue_id, HISTORY)
    assert await asyncio.wait_for(run(env_of(topics, tmp_path / "qm.db")), 8) == 0
    assert len(table_rows(tmp_path / "qm.db", "candles")) == 5
    final = (await read_telemetry(topics))[-1]
    assert "3 records skipped" in final["stats"]["warnings"][-1]


async def test_end_offsets_count_every_record_of_the_last_batch(
    topics: JobTopics, bus: KafkaBus
) -> None:
    await produce(bus, topics.records, [candle(n) for n in range(100)])
    await produce(bus, topics.records, [candle(n) for n in range(80)])
    numbers = await bus.partitions_for(topics.records)
    partitions = [TopicPartition(topics.records, n) for n in numbers]
    ends = await confirmed_end_offsets(bus, partitions)
    assert sum(ends.values()) == 180
