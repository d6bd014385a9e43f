"""The broker fails under a running service: nothing is lost, the service heals itself.

Must hold: telemetry sent while the broker is frozen is applied once it thaws; readiness
is 503 while it is frozen; after a restart from empty the service recreates its topics and
processes new messages without a restart of its own.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson

from app.bus.kafka import KafkaBus
from app.models.queues import QueueCreate
from tests.fixtures.app import scripted
from tests.fixtures.eventually import eventually
from tests.integration.test_control_plane import telemetry, until_stored
from tests.seed_examples import BASIC

SLOW = {"loader-producer": scripted("sleep", "60"), "arango-connector": scripted("sleep", "60")}


async def produce(bus: KafkaBus, topic: str, messages: list[dict[str, Any]]) -> None:
    for message in messages:
        await bus.send(topic, message["queue_id"], orjson.dumps(message))


async def test_frozen_broker_loses_no_telemetry_and_fails_readiness(
    served_with: Any, own_broker: Any
) -> None:
    async with served_with(targets=SLOW, kafka_bootstrap_servers=own_broker.bootstrap) as served:
        await served.dispatcher_ready()
        queue = await served.state.queues.start(QueueCreate.model_validate(BASIC))
        bus = KafkaBus(served.state.settings)
        await bus.start()
        try:
            own_broker.embedded.pause()
            sending = asyncio.create_task(
                produce(
                    bus,
                    served.state.settings.queue_control_topic,
                    [telemetry(queue, s, records=s) for s in range(1, 21)],
                )
            )
            async with httpx.AsyncClient(base_url=served.url) as client:
                ready = await client.get("/health/ready")
            assert ready.status_code == 503 and "broker" in ready.json()["message"]
            assert not sending.done()
            own_broker.embedded.resume()
            await asyncio.wait_for(sending, 30)
            final = await until_stored(served, queue.id, lambda q: q.jobs[0].seq == 20, within=30)
            assert final.records_written == 20
        finally:
            own_broker.embedded.resume()
            await bus.stop()


async def test_broker_restarted_empty_is_healed_without_a_service_restart(
    served_with: Any, own_broker: Any
) -> None:
    async with served_with(
        targets=SLOW, kafka_bootstrap_servers=own_broker.bootstrap, kafka_topic_check_seconds=0.5
    ) as served:
        await served.dispatcher_ready()
        queue = await served.state.queues.start(QueueCreate.model_validate(BASIC))
        await own_broker.embedded.restart()
        bus = KafkaBus(served.state.settings)
        await bus.start()
        try:
            topic = served.state.settings.queue_control_topic
            await eventually(
                lambda: _topics(bus), lambda topics: topic in topics, within=30, every=0.1
            )
            await produce(bus, topic, [telemetry(queue, 1, records=11)])
            final = await until_stored(served, queue.id, lambda q: q.jobs[0].seq == 1, within=45)
            assert final.records_written == 11
        finally:
            await bus.stop()
        async with httpx.AsyncClient(base_url=served.url) as client:
            assert (await client.get("/health/ready")).status_code == 200


async def _topics(bus: KafkaBus) -> set[str]:
    metadata = await bus.producer.client.fetch_all_metadata()
    return set(metadata.topics())
