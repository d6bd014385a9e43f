"""Settings -> aiokafka client keyword arguments (bootstrap, security, TLS).

One place decides how we talk to Kafka, so the producer, consumers and admin clients of
every service and job connect the same way.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from aiokafka.helpers import create_ssl_context

from app.config import KafkaSecurity, Settings
from app.errors import InvalidInput

TLS_PROTOCOLS = {KafkaSecurity.SSL, KafkaSecurity.SASL_SSL}
SASL_PROTOCOLS = {KafkaSecurity.SASL_PLAINTEXT, KafkaSecurity.SASL_SSL}


def security_protocol(settings: Settings) -> KafkaSecurity:
    """The explicit KAFKA_SECURITY_PROTOCOL wins; otherwise infer from user and CA file."""
    if settings.kafka_security_protocol is not None:
        return settings.kafka_security_protocol
    if settings.kafka_user:
        return KafkaSecurity.SASL_SSL if settings.ca_path else KafkaSecurity.SASL_PLAINTEXT
    return KafkaSecurity.PLAINTEXT


def tls_context(ca_path: Path | None) -> ssl.SSLContext:
    """A verifying TLS context trusting CA_PATH (or the system store when it is unset)."""
    if ca_path is None:
        return ssl.create_default_context()
    try:
        context: ssl.SSLContext = create_ssl_context(cafile=str(ca_path))
    except (OSError, ssl.SSLError) as error:
        raise InvalidInput(f"CA_PATH {ca_path} is not a readable CA file: {error}") from None
    return context


def sasl_options(settings: Settings) -> dict[str, Any]:
    """SASL credentials; a SASL protocol without KAFKA_USER is a configuration error."""
    if not settings.kafka_user:
        raise InvalidInput("KAFKA_USER is required for a SASL security protocol")
    password = settings.kafka_password.get_secret_value() if settings.kafka_password else ""
    return {
        "sasl_mechanism": settings.kafka_sasl_mechanism.value,
        "sasl_plain_username": settings.kafka_user,
        "sasl_plain_password": password,
    }


def client_options(settings: Settings) -> dict[str, Any]:
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
