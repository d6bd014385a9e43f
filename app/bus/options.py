"""Settings -> aiokafka client keyword arguments (bootstrap, security, TLS, producer).

One place decides how we talk to Kafka, so the producer, consumers and admin clients of
the service and of every job connect the same way (a test derives a job's options from
the environment its launcher gives it and compares them with the service's).

Security protocol: KAFKA_SECURITY_PROTOCOL when set. Unset, the documented default is
SASL_SSL when KAFKA_USER is set (verified against CA_PATH, or the system's trust store for
brokers with public certificates) and PLAINTEXT otherwise; SASL_PLAINTEXT is never
inferred, since it would send SASL credentials over an unencrypted connection.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from aiokafka.helpers import create_ssl_context

from app.config import KafkaSecurity, KafkaSettings
from app.errors import InvalidInput

TLS_PROTOCOLS = {KafkaSecurity.SSL, KafkaSecurity.SASL_SSL}
SASL_PROTOCOLS = {KafkaSecurity.SASL_PLAINTEXT, KafkaSecurity.SASL_SSL}
BROKER_DEFAULT = -1
"""CreateTopics' "use the broker's num.partitions / default.replication.factor" (KIP-464)."""


def security_protocol(settings: KafkaSettings) -> KafkaSecurity:
    """The explicit KAFKA_SECURITY_PROTOCOL, else the documented default (module doc)."""
    if settings.kafka_security_protocol is not None:
        return settings.kafka_security_protocol
    return KafkaSecurity.SASL_SSL if settings.kafka_user else KafkaSecurity.PLAINTEXT


def tls_context(ca_path: Path | None) -> ssl.SSLContext:
    """A verifying TLS context trusting CA_PATH (or the system store when it is unset)."""
    if ca_path is None:
        return ssl.create_default_context()
    try:
        context: ssl.SSLContext = create_ssl_context(cafile=str(ca_path))
    except (OSError, ssl.SSLError) as error:
        raise InvalidInput(f"CA_PATH {ca_path} is not a readable CA file: {error}") from None
    return context


def sasl_options(settings: KafkaSettings) -> dict[str, Any]:
    """SASL credentials; a SASL protocol without KAFKA_USER is a configuration error."""
    if not settings.kafka_user:
        raise InvalidInput("KAFKA_USER is required for a SASL security protocol")
    password = settings.kafka_password.get_secret_value() if settings.kafka_password else ""
    return {
        "sasl_mechanism": settings.kafka_sasl_mechanism.value,
        "sasl_plain_username": settings.kafka_user,
        "sasl_plain_password": password,
    }


def client_options(settings: KafkaSettings) -> dict[str, Any]:
    """aiokafka kwargs shared by producers, consumers and admin clients."""
    if not settings.kafka_bootstrap_servers:
        raise InvalidInput("KAFKA_BOOTSTRAP_SERVERS is not set")
    protocol = security_protocol(settings)
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": protocol.value,
    }
    if protocol in SASL_PROTOCOLS:
        options |= sasl_options(settings)
    if protocol in TLS_PROTOCOLS:
        options["ssl_context"] = tls_context(settings.ca_path)
    return options


def producer_options(settings: KafkaSettings) -> dict[str, Any]:
    """What every producer promises: acks=all, and idempotence where the broker has it.

    With idempotence (KAFKA_ENABLE_IDEMPOTENCE, the default), the broker drops the
    duplicates a producer's own retries would write and keeps each partition's order.
    Without it (the embedded Tansu answers InitProducerId with an error), acks=all still
    means an acknowledged message is on every in-sync replica, but a retried send may be
    written twice; consumers ignore duplicates by `seq` and the connector by `_key`.
    """
    return {
        "acks": "all",
        "enable_idempotence": settings.kafka_enable_idempotence,
        "max_request_size": settings.kafka_max_message_bytes,
    }


def topic_sizing(settings: KafkaSettings) -> tuple[int, int]:
    """(partitions, replication factor) of topics we create; -1 asks for the broker's."""
    return (
        settings.kafka_topic_partitions or BROKER_DEFAULT,
        settings.kafka_topic_replication_factor or BROKER_DEFAULT,
    )
