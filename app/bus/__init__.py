"""Messaging: the Bus port, its Kafka adapter (aiokafka) and the embedded broker (Tansu).

Code outside this package asks `make_bus` for a Bus and never names the adapter.
"""

from app.bus.base import Bus, Consumer, Headers, Message, Record
from app.bus.embedded import EmbeddedBroker
from app.bus.errors import broker_errors
from app.bus.kafka import KafkaBus, client_options, encode_json
from app.config import KafkaSettings

__all__ = [
    "Bus",
    "Consumer",
    "EmbeddedBroker",
    "Headers",
    "KafkaBus",
    "Message",
    "Record",
    "broker_errors",
    "client_options",
    "encode_json",
    "make_bus",
]


def make_bus(settings: KafkaSettings) -> Bus:
    """The bus of this process: Kafka at KAFKA_BOOTSTRAP_SERVERS with its security options."""
    return KafkaBus(settings)
