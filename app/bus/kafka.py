"""KafkaBus: the one producer of a process, plus admin and consumer factories (aiokafka).

Every Kafka failure leaves this module as BrokerUnavailable (or InvalidInput), never raw.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pydantic import BaseModel

from app.bus.base import Message, Record
from app.bus.errors import broker_errors
from app.bus.options import BROKER_DEFAULT, client_options, producer_options, topic_sizing
from app.bus.partitions import KeyPartitions
from app.config import KafkaSettings
from app.errors import BrokerUnavailable

__all__ = ["KafkaBus", "client_options", "encode_json"]

TOPIC_ALREADY_EXISTS = 36


def encode_json(obj: Any) -> bytes:
    """JSON bytes: msgspec Structs encode themselves, pydantic models dump first."""
    if isinstance(obj, msgspec.Struct):
        return msgspec.json.encode(obj)
    if isinstance(obj, BaseModel):
        obj = obj.model_dump(mode="json")
    return orjson.dumps(obj)


def _key(key: str | None) -> bytes | None:
    return key.encode() if key is not None else None


class KafkaBus:
    """The Bus adapter (app/bus/base.py): owns one producer (app/bus/options.producer_options
    says what it promises; a short linger so sends batch)."""

    def __init__(
        self, settings: KafkaSettings, *, linger_ms: int = 5, request_timeout_ms: int = 10_000
    ) -> None:
        self.settings = settings
        self.options = client_options(settings)
        self._producer_options = {
            **producer_options(settings),
            "linger_ms": linger_ms,
            "request_timeout_ms": request_timeout_ms,
        }
        self._producer: AIOKafkaProducer | None = None
        self._partitions = KeyPartitions()
        """send_many's keyed partitions, once per key (app/bus/partitions.py)."""
        self.last_error: str | None = None
        """Why the last start failed (readiness names it while we are not connected)."""

    async def start(self, connect_seconds: float = 10.0) -> None:
        """Connect the producer (once); a broker silent for `connect_seconds` is an error."""
        if self._producer is not None:
            return
        producer = AIOKafkaProducer(**self.producer_config)
        try:
            with broker_errors("connect to Kafka"):
                await asyncio.wait_for(producer.start(), connect_seconds)
        except BrokerUnavailable as error:
            self.last_error = error.message
            await producer.stop()
            raise
        except BaseException:
            await producer.stop()
            raise
        self._producer, self.last_error = producer, None

    async def stop(self) -> None:
        """Flush what is queued and close; safe to call twice."""
        producer, self._producer = self._producer, None
        if producer is not None:
            with broker_errors("close the Kafka producer"):
                await producer.stop()

    @property
    def producer_config(self) -> dict[str, Any]:
        """The producer's aiokafka keyword arguments (acks, idempotence, linger, sizes), so
        a benchmark's bare producer can be made the same."""
        return {**self.options, **self._producer_options}

    @property
    def max_message_bytes(self) -> int:
        return self.settings.kafka_max_message_bytes

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            why = f": {self.last_error}" if self.last_error else ""
            raise BrokerUnavailable(f"the Kafka bus is not started{why}")
        return self._producer

    async def send(self, topic: str, key: str | None, value: bytes) -> None:
        """Produce one message and wait for the broker's acknowledgement."""
        with broker_errors(f"send to {topic}"):
            await self.producer.send_and_wait(topic, value, key=_key(key))

    async def send_json(self, topic: str, key: str | None, obj: Any) -> None:
        await self.send(topic, key, encode_json(obj))

    async def send_many(self, topic: str, messages: Sequence[Message]) -> list[Message]:
        """Produce a batch at once; return the messages the broker did not acknowledge.
        One loop, no per-message helper calls: a stream loader sends every record here."""
        with broker_errors(f"send to {topic}"):
            send = self.producer.send
            choose = self._partitions.chooser(topic, await self.producer.partitions_for(topic))
            keyed = [(k.encode() if k is not None else None, v) for k, v in messages]
            futures = [await send(topic, v, key=k, partition=choose(k)) for k, v in keyed]
        await _settled(futures)
        return [m for m, f in zip(messages, futures, strict=True) if f.cancelled() or f.exception()]

    async def publish(self, records: Sequence[Record]) -> None:
        """Produce records in order, all or raise (the caller retries the whole batch)."""
        with broker_errors("publish"):
            await asyncio.gather(*await self._enqueue(records))

    async def _enqueue(self, records: Iterable[Record]) -> list[asyncio.Future[Any]]:
        """Hand records to the producer's batches; each future settles on the broker's ack."""
        send = self.producer.send
        return [await send(t, v, key=_key(k), headers=h) for t, k, v, h in records]

    async def flush(self) -> None:
        """Wait until every queued message is sent (or has failed)."""
        with broker_errors("flush the Kafka producer"):
            await self.producer.flush()

    async def partitions_for(self, topic: str) -> set[int]:
        """The topic's partitions (a broker with auto-create makes the topic on the way)."""
        with broker_errors(f"read metadata of {topic}"):
            return set(await self.producer.partitions_for(topic))

    async def ping(self, timeout: float = 1.5) -> None:  # noqa: ASYNC109 (contract)
        """Prove the broker answers a metadata request within `timeout` seconds."""
        with broker_errors("ping Kafka"):
            await asyncio.wait_for(self.producer.client.fetch_all_metadata(), timeout)

    async def ensure_topics(self, names: Iterable[str], partitions: int | None = None) -> None:
        """Create the missing topics with `partitions` (default KAFKA_TOPIC_PARTITIONS) and
        KAFKA_TOPIC_REPLICATION_FACTOR, each unset meaning the broker's default; one that
        already exists is fine."""
        configured, replication = topic_sizing(self.settings)
        partitions = partitions or configured
        wanted = [_new_topic(name, partitions, replication) for name in names]
        admin = AIOKafkaAdminClient(**self.options)
        try:
            with broker_errors("create topics"):
                await admin.start()
                response = await admin.create_topics(wanted)
        finally:
            await admin.close()
        _raise_topic_errors(response.topic_errors)

    def consumer(
        self, topics: Sequence[str], group_id: str | None, **opts: Any
    ) -> AIOKafkaConsumer:
        """An unstarted consumer connecting like the producer; start it inside broker_errors."""
        return AIOKafkaConsumer(*topics, group_id=group_id, **self.options, **opts)


async def _settled(futures: list[asyncio.Future[Any]]) -> None:
    """Wait until every future is done, one at a time: the futures of a partition's batch
    settle together, so nearly all are done when their turn comes. (gather's callback per
    future cost a tenth of a stream loader's time into Kafka: bench loaders.)"""
    for future in futures:
        if not future.done():
            await asyncio.wait((future,))


def _new_topic(name: str, partitions: int, replication: int) -> NewTopic:
    """aiokafka's NewTopic takes -1 (the broker's default) only beside replica
    assignments: an empty set of them is sent as none, which is what -1 needs."""
    uses_default = BROKER_DEFAULT in (partitions, replication)
    return NewTopic(name, partitions, replication, replica_assignments={} if uses_default else None)


def _raise_topic_errors(topic_errors: Iterable[tuple[Any, ...]]) -> None:
    for name, code, *message in topic_errors:
        if code not in (0, TOPIC_ALREADY_EXISTS):
            detail = message[0] if message and message[0] else f"error code {code}"
            raise BrokerUnavailable(f"create topic {name}: {detail}")
