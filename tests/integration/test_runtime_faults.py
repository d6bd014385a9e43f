"""The Kafka record sink when the broker crashes: retried until it is back, or a clear error."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from app.bus.kafka import KafkaBus
from app.config import Settings
from app.errors import BrokerUnavailable
from app.workers.kafka_sink import KafkaRecordSink
from tests.fixtures.broker import RunningBroker
from tests.fixtures.eventually import eventually
from tests.fixtures.kafka_reader import read_topic

RECORDS = [{"symbol": "BTCUSDT", "n": 1}, {"symbol": "ETHUSDT", "n": 2}]


@pytest_asyncio.fixture
async def bus(own_broker: RunningBroker) -> AsyncIterator[KafkaBus]:
    settings = Settings(_env_file=None, kafka_bootstrap_servers=own_broker.bootstrap)
    started = KafkaBus(settings, request_timeout_ms=800)
    await started.start()
    yield started
    await started.stop()


async def test_the_sink_raises_when_the_broker_stays_down(
    own_broker: RunningBroker, bus: KafkaBus
) -> None:
    sink = KafkaRecordSink(bus, "records", retry_seconds=1.0)
    await sink.send(RECORDS)
    await own_broker.embedded.kill()
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable):
        await sink.send(RECORDS)
    assert time.monotonic() - started < 5
    assert sink.delivered == 2


async def test_the_sink_delivers_once_a_crashed_broker_is_back(
    own_broker: RunningBroker, bus: KafkaBus
) -> None:
    sink = KafkaRecordSink(bus, "records", retry_seconds=8.0)
    await own_broker.embedded.kill()
    sending = asyncio.create_task(sink.send(RECORDS))
    await eventually(lambda: sink.failed_attempts >= 1, within=5, every=0.02)
    await own_broker.embedded.start()
    await asyncio.wait_for(sending, 8)
    got = await read_topic(own_broker.bootstrap, "records", lambda m: len(m) >= 2)
    assert sorted(m.value["n"] for m in got) == [1, 2]
    assert {m.key for m in got} == {"BTCUSDT", "ETHUSDT"}
