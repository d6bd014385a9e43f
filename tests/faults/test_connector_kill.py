"""A connector process killed (SIGKILL) mid-way and restarted: nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from aiokafka import TopicPartition

from app.bus.kafka import KafkaBus
from app.naming import job_name
from tests.fixtures.documents import candle, loader_ended, produce, table_rows, wait_for_rows
from tests.fixtures.jobs import JobTopics

pytestmark = pytest.mark.timeout(30)
ROOT = Path(__file__).parents[2]
TOTAL = 20_000
HISTORY = "api_candles_5m"


def connector_env(topics: JobTopics, db: Path) -> dict[str, str]:
    name = job_name(topics.queue_id, "arango-connector", HISTORY)
    return {
        "PATH": os.environ.get("PATH", ""),
        **topics.env_vars(
            TARGET="arango-connector",
            JOB_TYPE=HISTORY,
            JOB_NAME=name,
            SQLITE_PATH=str(db),
            COLLECTION="candles",
            CONNECTOR_BATCH_SIZE="100",
        ),
    }


async def start_connector(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.workers",
        "arango-connector",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def committed(bus: KafkaBus, topics: JobTopics, group: str) -> int:
    consumer = bus.consumer([], group_id=group)
    await consumer.start()
    try:
        numbers = await bus.partitions_for(topics.records)
        offsets = [await consumer.committed(TopicPartition(topics.records, n)) for n in numbers]
        return sum(offset or 0 for offset in offsets)
    finally:
        await consumer.stop()


async def test_a_killed_connector_resumes_without_loss_or_duplicates(
    topics: JobTopics, bus: KafkaBus, tmp_path: Path
) -> None:
    db, env = tmp_path / "qm.db", connector_env(topics, tmp_path / "qm.db")
    group = f"connector-{topics.queue_id}-{env['JOB_NAME']}"
    await produce(bus, topics.records, [candle(n) for n in range(TOTAL)])
    first = await start_connector(env)
    await wait_for_rows(db, "candles", 1, within=10)
    first.kill()
    await first.wait()
    written_before = len(table_rows(db, "candles"))
    assert 0 < written_before < TOTAL  # killed mid-way
    assert await committed(bus, topics, group) <= written_before  # never ahead of the write
    await loader_ended(bus, topics.control, topics.queue_id, HISTORY)
    second = await start_connector(env)
    assert await asyncio.wait_for(second.wait(), 15) == 0
    rows = table_rows(db, "candles")
    assert rows == {c["id"]: {**c, "_key": c["id"]} for c in map(candle, range(TOTAL))}
    assert await committed(bus, topics, group) == TOTAL
