"""Broker faults on a broker of the test's own: hang (SIGSTOP), crash and restart, orphaning."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

import pytest

from app.bus.embedded import EmbeddedBroker
from app.bus.kafka import KafkaBus
from app.config import Settings
from app.errors import BrokerUnavailable
from tests.fixtures.broker import RunningBroker
from tests.fixtures.kafka_reader import read_topic
from tests.fixtures.processes import pid_exists, wait_for_exit


def bus_for(bootstrap: str) -> KafkaBus:
    return KafkaBus(Settings(_env_file=None, kafka_bootstrap_servers=bootstrap))


async def test_ping_of_a_hung_broker_fails_within_its_bound(own_broker: RunningBroker) -> None:
    bus = bus_for(own_broker.bootstrap)
    await bus.start()
    try:
        own_broker.embedded.pause()
        started = time.monotonic()
        with pytest.raises(BrokerUnavailable):
            await bus.ping(timeout=0.5)
        elapsed = time.monotonic() - started
        assert elapsed < 0.5 + 2.0, f"ping took {elapsed:.2f}s against a 0.5 s bound"
        own_broker.embedded.resume()
        await bus.ping(timeout=5)
    finally:
        own_broker.embedded.resume()
        await bus.stop()


async def test_restart_keeps_the_port_and_comes_back_empty(own_broker: RunningBroker) -> None:
    bus = bus_for(own_broker.bootstrap)
    await bus.start()
    await bus.ensure_topics(["before-restart"], partitions=1)
    await bus.stop()
    assert await own_broker.embedded.restart() == own_broker.bootstrap
    bus = bus_for(own_broker.bootstrap)
    await bus.start()
    try:
        await bus.send(topic="after-restart", key="k", value=b'{"ok": true}')
        topics = await bus.producer.client.fetch_all_metadata()
        assert "before-restart" not in topics.topics()
    finally:
        await bus.stop()
    got = await read_topic(own_broker.bootstrap, "after-restart", lambda m: len(m) >= 1)
    assert got[0].value == {"ok": True}


async def test_stop_terminates_and_reaps_the_child(tmp_path: Path) -> None:
    embedded = EmbeddedBroker(tmp_path / "tansu.log")
    await embedded.start()
    pid = embedded.pid
    assert pid is not None
    await embedded.stop()
    await wait_for_exit(pid, within=1.0)
    assert embedded.pid is None


async def test_a_binary_that_exits_gives_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALF_TANSU_BIN", "/bin/false")
    with pytest.raises(BrokerUnavailable, match="exited with code 1"):
        await EmbeddedBroker(tmp_path / "tansu.log", ready_seconds=3).start()


ORPHANING_PARENT = """
import asyncio, sys
from pathlib import Path
from app.bus.embedded import EmbeddedBroker
broker = EmbeddedBroker(Path(sys.argv[1]))
asyncio.run(broker.start())
print(broker.pid, flush=True)
sys.stdin.read()
"""


async def test_the_broker_dies_with_its_parent(tmp_path: Path) -> None:
    parent = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        ORPHANING_PARENT,
        str(tmp_path / "tansu.log"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=Path(__file__).parents[2],
    )
    assert parent.stdout is not None
    broker_pid = int(await asyncio.wait_for(parent.stdout.readline(), 8))
    assert pid_exists(broker_pid)
    parent.send_signal(signal.SIGKILL)
    await asyncio.wait_for(parent.wait(), 5)
    await wait_for_exit(broker_pid, within=3.0)
