"""The MOEX loader through the real job runtime (loader-producer) on the embedded broker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from app.bus.kafka import KafkaBus
from app.config import Settings
from app.workers import loader_producer
from app.workers.runtime import RuntimeOptions, run_job_async
from tests.fakes.moex_stomp import FakeMoexServer
from tests.fixtures.broker import RunningBroker
from tests.fixtures.jobs import (
    JobTopics,
    job_topics,
    read_telemetry,
    stop_command,
    telemetry_of,
)
from tests.fixtures.kafka_reader import Received, read_topic

pytestmark = pytest.mark.timeout(30)
FAST = RuntimeOptions(stop_timeout=2, broker_connect_timeout=3, telemetry_retry_seconds=3)
TUNING = {"subscribe_delay": 0.001, "backoff_initial": 0.05, "stats_interval": 0.1}


@pytest.fixture
def topics(broker: RunningBroker, topic_prefix: str) -> JobTopics:
    return job_topics(broker.bootstrap, topic_prefix)


def moex_job_env(topics: JobTopics, server: FakeMoexServer, **extra: str) -> Any:
    return topics.env(
        TUNING,
        TARGET="loader-producer",
        JOB_TYPE="ws_securities",
        EXCHANGE="moex",
        SYMBOLS="SBER,GAZP",
        MOEX_WS_URL=server.url,
        **extra,
    )


async def test_records_keyed_by_ticker_and_live_stats_reach_kafka(topics: JobTopics) -> None:
    async with FakeMoexServer() as server:
        job = asyncio.create_task(
            run_job_async(loader_producer.main, moex_job_env(topics, server), FAST)
        )
        records = await read_topic(topics.bootstrap, topics.records, lambda m: len(m) >= 2)
        telemetry = await _telemetry_until(topics, lambda t: _seen(t) == 2)
        await _stop(topics)
        assert await asyncio.wait_for(job, 8) == 0
    assert {(m.key, m.value["kind"], m.value["last"]) for m in records} == {
        ("SBER", "ticker", "306.13"),
        ("GAZP", "ticker", "306.13"),
    }
    stats = next(t["stats"] for t in telemetry if _seen(t) == 2)
    assert stats["connections_total"] == 1 and set(stats["tickers"]) == {"SBER", "GAZP"}
    assert (await read_telemetry(topics))[-1]["status"] == "stopped"


async def test_access_denied_ends_the_job_in_error_with_a_clear_message(
    topics: JobTopics,
) -> None:
    async with FakeMoexServer(passcode="other") as server:
        code = await asyncio.wait_for(
            run_job_async(loader_producer.main, moex_job_env(topics, server), FAST), 10
        )
    final = (await read_telemetry(topics))[-1]
    assert code == 1 and final["status"] == "error"
    assert "denied access for login 'guest'" in final["error_message"]
    assert server.connections_total == 1


def _seen(telemetry: dict[str, Any]) -> int:
    return int((telemetry.get("stats") or {}).get("tickers_seen") or 0)


async def _telemetry_until(
    topics: JobTopics, wanted: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    """This queue's telemetry, read until one message satisfies `wanted`."""

    def done(messages: list[Received]) -> bool:
        return any(wanted(t) for t in telemetry_of(messages, topics.queue_id))

    messages = await read_topic(topics.bootstrap, topics.control, done, 8)
    return telemetry_of(messages, topics.queue_id)


async def _stop(topics: JobTopics) -> None:
    settings = Settings(_env_file=None, kafka_bootstrap_servers=topics.bootstrap)
    bus = KafkaBus(settings)
    await bus.start()
    try:
        await bus.send_json(topics.control, topics.queue_id, stop_command(topics.queue_id))
    finally:
        await bus.stop()
