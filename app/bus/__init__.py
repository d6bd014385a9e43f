"""Messaging: the Kafka bus (aiokafka) and the embedded Kafka-compatible broker (Tansu)."""

from app.bus.embedded import EmbeddedBroker
from app.bus.errors import broker_errors
from app.bus.kafka import KafkaBus, client_options, encode_json

__all__ = ["EmbeddedBroker", "KafkaBus", "broker_errors", "client_options", "encode_json"]
