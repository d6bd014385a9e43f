"""The Bus port: what the control plane and the jobs need from Kafka.

Producing, topic administration and the health probe go through the port. Consuming hands
out the Kafka client's own consumer (`Consumer`): its API (assign, seek, pause, commit) is
what a wrapper would only copy. The adapter is KafkaBus (app/bus/kafka.py); every failure
leaves it as one of our errors (BrokerUnavailable, InvalidInput).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TypeAlias

from aiokafka import AIOKafkaConsumer

Consumer: TypeAlias = AIOKafkaConsumer
Message: TypeAlias = tuple[str | None, bytes]
"""(key, value) of one record for a known topic."""
Headers: TypeAlias = list[tuple[str, bytes]]
Record: TypeAlias = tuple[str, str | None, bytes, Headers | None]
"""(topic, key, value, headers) of one record to publish."""


class Bus(Protocol):
    """One producer per process, plus topic admin and consumers connecting the same way."""

    @property
    def max_message_bytes(self) -> int:
        """The largest record the producer sends (KAFKA_MAX_MESSAGE_BYTES)."""

    async def start(self, connect_seconds: float = 10.0) -> None:
        """Connect; a broker silent for `connect_seconds` is BrokerUnavailable."""

    async def stop(self) -> None:
        """Flush what is queued and close; safe to call twice."""

    async def send(self, topic: str, key: str | None, value: bytes) -> None:
        """Produce one record and wait for the broker's acknowledgement."""

    async def send_json(self, topic: str, key: str | None, obj: Any) -> None:
        """`send` of a pydantic model, msgspec Struct or plain object as JSON."""

    async def send_many(self, topic: str, messages: Sequence[Message]) -> list[Message]:
        """Produce a batch at once; returns the messages the broker did not acknowledge."""

    async def publish(self, records: Sequence[Record]) -> None:
        """Produce records in order, all or raise: the caller retries the whole batch."""

    async def flush(self) -> None:
        """Wait until every queued record is sent (or has failed)."""

    async def partitions_for(self, topic: str) -> set[int]:
        """The topic's partition numbers."""

    async def ping(self, timeout: float = 1.5) -> None:  # noqa: ASYNC109 (contract)
        """Prove the broker answers within `timeout` seconds."""

    async def ensure_topics(self, names: Iterable[str], partitions: int | None = None) -> None:
        """Create the missing topics with `partitions` (default KAFKA_TOPIC_PARTITIONS) and
        KAFKA_TOPIC_REPLICATION_FACTOR, unset meaning the broker's; existing ones are fine."""

    def consumer(self, topics: Sequence[str], group_id: str | None, **opts: Any) -> Consumer:
        """An unstarted consumer connecting like the producer; start it inside
        `broker_errors` (app/bus/errors.py)."""
