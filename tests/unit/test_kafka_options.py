"""Settings -> aiokafka options: every protocol, every mechanism, TLS from a CA file."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

from app.bus.kafka import client_options
from app.bus.options import producer_options, topic_sizing
from app.config import Settings
from app.errors import InvalidInput
from tests.fixtures.certificates import write_self_signed_ca

BOOTSTRAP = "kafka-1:9093,kafka-2:9093"


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, kafka_bootstrap_servers=BOOTSTRAP, **values)


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    return write_self_signed_ca(tmp_path / "ca.pem")


def test_plaintext_without_user() -> None:
    options = client_options(settings())
    assert options == {"bootstrap_servers": BOOTSTRAP, "security_protocol": "PLAINTEXT"}


def test_user_without_ca_means_sasl_ssl_trusting_the_system_store() -> None:
    """Brokers with public certificates need no CA_PATH; SASL is never inferred unencrypted."""
    options = client_options(settings(kafka_user="svc", kafka_password="pw"))
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_plain_username"] == "svc"
    assert options["sasl_plain_password"] == "pw"
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert options["ssl_context"].get_ca_certs() == ssl.create_default_context().get_ca_certs()


def test_sasl_plaintext_only_when_asked_for() -> None:
    options = client_options(settings(kafka_user="svc", kafka_security_protocol="SASL_PLAINTEXT"))
    assert options["security_protocol"] == "SASL_PLAINTEXT"
    assert "ssl_context" not in options


def test_user_with_ca_means_sasl_ssl_with_context_from_ca(ca_file: Path) -> None:
    options = client_options(settings(kafka_user="svc", kafka_password="pw", ca_path=ca_file))
    assert options["security_protocol"] == "SASL_SSL"
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert "streamforge test CA" in str(context.get_ca_certs())


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_every_sasl_mechanism_is_passed_through(mechanism: str) -> None:
    options = client_options(settings(kafka_user="svc", kafka_sasl_mechanism=mechanism))
    assert options["sasl_mechanism"] == mechanism


def test_default_mechanism_is_scram_sha_512() -> None:
    assert client_options(settings(kafka_user="svc"))["sasl_mechanism"] == "SCRAM-SHA-512"


def test_explicit_protocol_wins_over_inference(ca_file: Path) -> None:
    options = client_options(
        settings(kafka_user="svc", ca_path=ca_file, kafka_security_protocol="SASL_PLAINTEXT")
    )
    assert options["security_protocol"] == "SASL_PLAINTEXT"
    assert "ssl_context" not in options


def test_explicit_ssl_without_user_has_tls_and_no_sasl(ca_file: Path) -> None:
    options = client_options(settings(kafka_security_protocol="SSL", ca_path=ca_file))
    assert options["security_protocol"] == "SSL"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert "sasl_mechanism" not in options


def test_explicit_plaintext_ignores_credentials() -> None:
    options = client_options(settings(kafka_user="svc", kafka_security_protocol="PLAINTEXT"))
    assert options == {"bootstrap_servers": BOOTSTRAP, "security_protocol": "PLAINTEXT"}


def test_ssl_without_ca_trusts_the_system_store() -> None:
    options = client_options(settings(kafka_security_protocol="SSL"))
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED


def test_sasl_protocol_without_user_is_invalid() -> None:
    with pytest.raises(InvalidInput, match="KAFKA_USER"):
        client_options(settings(kafka_security_protocol="SASL_SSL"))


def test_missing_ca_file_names_ca_path(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="CA_PATH"):
        client_options(settings(kafka_user="svc", ca_path=tmp_path / "absent.pem"))


def test_unreadable_ca_file_names_ca_path(tmp_path: Path) -> None:
    garbage = tmp_path / "ca.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(InvalidInput, match="CA_PATH"):
        client_options(settings(kafka_user="svc", ca_path=garbage))


def test_missing_bootstrap_is_invalid() -> None:
    with pytest.raises(InvalidInput, match="KAFKA_BOOTSTRAP_SERVERS"):
        client_options(Settings(_env_file=None))


def test_producers_are_idempotent_with_acks_all_unless_the_broker_cannot() -> None:
    assert Settings.model_fields["kafka_enable_idempotence"].default is True
    assert producer_options(settings(kafka_enable_idempotence=True)) == {
        "acks": "all",
        "enable_idempotence": True,
        "max_request_size": 1_048_576,
    }
    assert producer_options(settings(kafka_enable_idempotence=False))["enable_idempotence"] is False


def test_topic_sizes_default_to_the_brokers() -> None:
    assert topic_sizing(settings()) == (-1, -1)
    sized = settings(kafka_topic_partitions=6, kafka_topic_replication_factor=3)
    assert topic_sizing(sized) == (6, 3)
