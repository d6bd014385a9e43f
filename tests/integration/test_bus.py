"""KafkaBus against the live embedded broker (Tansu) of the test session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from pydantic import BaseModel

from app.bus.embedded import EmbeddedBroker, free_port
from app.bus.kafka import KafkaBus
from app.config import Settings
from app.errors import BrokerUnavailable
from tests.fixtures.broker import RunningBroker
from tests.fixtures.kafka_reader import read_topic
from tests.fixtures.processes import pid_exists


class Candle(BaseModel):
    symbol: str
    close: float


def bus_settings(bootstrap: str) -> Settings:
    return Settings(_env_file=None, kafka_bootstrap_servers=bootstrap)


def bootstrap_of(bus: KafkaBus) -> str:
    return bus.settings.kafka_bootstrap_servers or ""


@pytest_asyncio.fixture
async def bus(broker: RunningBroker) -> AsyncIterator[KafkaBus]:
    started = KafkaBus(bus_settings(broker.bootstrap))
    await started.start()
    yield started
    await started.stop()


async def test_ping_answers_on_a_live_broker(bus: KafkaBus) -> None:
    await bus.ping(timeout=2)


async def test_send_json_arrives_keyed_and_decoded(bus: KafkaBus, topic_prefix: str) -> None:
    topic = topic_prefix + "json"
    await bus.send_json(topic, "BTCUSDT", Candle(symbol="BTCUSDT", close=1.5))
    await bus.send_json(topic, None, {"plain": [1, 2]})
    got = await read_topic(bootstrap_of(bus), topic, lambda m: len(m) >= 2)
    by_key = {m.key: m.value for m in got}
    assert by_key == {"BTCUSDT": {"symbol": "BTCUSDT", "close": 1.5}, None: {"plain": [1, 2]}}


async def test_send_many_keeps_one_keys_order_in_one_partition(
    bus: KafkaBus, topic_prefix: str
) -> None:
    topic = topic_prefix + "batch"
    await bus.ensure_topics([topic], partitions=3)
    batch = [(f"k{i % 2}", f'{{"n": {i}}}'.encode()) for i in range(20)]
    assert await bus.send_many(topic, batch) == []
    got = await read_topic(bootstrap_of(bus), topic, lambda m: len(m) >= 20)
    for key in ("k0", "k1"):
        mine = [m for m in got if m.key == key]
        assert len({m.partition for m in mine}) == 1
        assert [m.value["n"] for m in mine] == sorted(m.value["n"] for m in mine)


async def test_send_many_puts_each_key_where_the_default_partitioner_does(
    bus: KafkaBus, topic_prefix: str
) -> None:
    """send_many picks each key's partition once (app/bus/partitions.py): the same one
    aiokafka's own partitioner gives, as send() of the same key does."""
    topic = topic_prefix + "placed"
    await bus.ensure_topics([topic], partitions=3)
    keys = [f"SYM{i}USDT" for i in range(12)]
    assert await bus.send_many(topic, [(key, b'{"via": "many"}') for key in keys]) == []
    for key in keys:
        await bus.send_json(topic, key, {"via": "one"})
    got = await read_topic(bootstrap_of(bus), topic, lambda m: len(m) >= 2 * len(keys))
    for key in keys:
        assert len({m.partition for m in got if m.key == key}) == 1, key
    assert len({m.partition for m in got}) > 1, "the keys spread over the partitions"


async def test_topics_we_create_take_the_configured_sizes_else_the_brokers(
    broker: RunningBroker, topic_prefix: str
) -> None:
    """KAFKA_TOPIC_PARTITIONS / _REPLICATION_FACTOR when set, else the broker's defaults
    (Tansu's num.partitions is 3; a replication factor of 1 is all one broker can hold)."""
    sized = KafkaBus(
        Settings(
            _env_file=None,
            kafka_bootstrap_servers=broker.bootstrap,
            kafka_topic_partitions=2,
            kafka_topic_replication_factor=1,
        )
    )
    defaults = KafkaBus(bus_settings(broker.bootstrap))
    for bus in (sized, defaults):
        await bus.start()
    try:
        await sized.ensure_topics([topic_prefix + "sized"])
        await defaults.ensure_topics([topic_prefix + "default"])
        assert await sized.partitions_for(topic_prefix + "sized") == {0, 1}
        assert await defaults.partitions_for(topic_prefix + "default") == {0, 1, 2}
    finally:
        for bus in (sized, defaults):
            await bus.stop()


async def test_ensure_topics_creates_partitions_and_is_idempotent(
    bus: KafkaBus, topic_prefix: str
) -> None:
    names = [topic_prefix + "a", topic_prefix + "b"]
    await bus.ensure_topics(names, partitions=4)
    await bus.ensure_topics(names, partitions=4)
    for name in names:
        assert await bus.partitions_for(name) == {0, 1, 2, 3}


async def test_start_against_nothing_raises_broker_unavailable() -> None:
    silent = KafkaBus(bus_settings(f"127.0.0.1:{free_port()}"))
    with pytest.raises(BrokerUnavailable, match="connect to Kafka"):
        await silent.start(connect_seconds=2)


async def test_send_before_start_is_broker_unavailable() -> None:
    with pytest.raises(BrokerUnavailable, match="not started"):
        await KafkaBus(bus_settings("127.0.0.1:1")).send("t", None, b"x")


async def test_embedded_broker_logs_to_its_file_and_is_reaped(broker: RunningBroker) -> None:
    log_text = broker.embedded.log_path.read_text()
    assert broker.bootstrap in log_text
    assert broker.embedded.pid is not None
    assert pid_exists(broker.embedded.pid)


async def test_broker_on_a_taken_port_fails_clearly(broker: RunningBroker, tmp_path: Path) -> None:
    taken = EmbeddedBroker(tmp_path / "tansu.log", port=broker.embedded.port, ready_seconds=5)
    with pytest.raises(BrokerUnavailable, match="in use"):
        await taken.start()
    assert taken.pid is None
