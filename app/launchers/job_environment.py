"""The job environment contract: one function says what a job's environment is, and each
launcher delivers exactly that on its platform.

A job gets (docs/architecture.md, "Jobs"):
- its identity and request (QUEUE_ID, TARGET, ... from the queue service), the extra env of
  its target in the registry (TARGETS_FILE), and the service's values a job needs:
  `service_values` (Kafka, with the security protocol made explicit; the store; the
  exchanges; telemetry interval, log level). Never a secret as a literal value.
- the secrets its target declares (TargetSpec.secrets): in a pod, `secretKeyRef`s into
  K8S_SECRET_NAME; in a local process, the service's own values of the same variables.
- CA_PATH when the service has a Kafka CA: in a pod the Secret's `ca.crt` mounted at
  POD_CA_PATH (a fixed path, so any CA_PATH of the service mounts cleanly); locally the
  service's file.
Nothing else: no API tokens, no Kubernetes or HTTP settings. A local process also keeps
the few variables any process needs to run (PROCESS_BASICS), as a pod has its image's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from app.bus.options import security_protocol
from app.config import Settings
from app.launchers.base import JobSpec
from app.launchers.targets import SECRET_NAMES, TargetSpec

POD_CA_DIR = "/etc/streamforge/kafka-ca"
CA_FILE_NAME = "ca.crt"
POD_CA_PATH = f"{POD_CA_DIR}/{CA_FILE_NAME}"
RESERVED = {*SECRET_NAMES, "CA_PATH"}
"""Set by the launchers only: never taken from a target's or a request's literal env."""
PROCESS_BASICS = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)
"""What a local process needs to run at all (a pod has these from its image)."""


@dataclass(frozen=True)
class JobEnvironment:
    values: dict[str, str]
    """Non-secret variables, the same on every launcher."""
    secrets: tuple[str, ...]
    """Names of the secret variables the job gets (a pod: secretKeyRef of the same key)."""
    kafka_ca: Path | None
    """The service's Kafka CA file, which the job finds at CA_PATH."""


def job_environment(spec: JobSpec, target: TargetSpec | None, settings: Settings) -> JobEnvironment:
    """The environment of the job `spec` of `target` (the one contract of both launchers)."""
    extra = target.env if target is not None else {}
    literal = {**extra, **spec.env}
    values = {name: value for name, value in literal.items() if name not in RESERVED}
    secrets = tuple(target.secrets) if target is not None else ()
    return JobEnvironment(values, secrets, settings.ca_path)


def service_values(settings: Settings) -> dict[str, str]:
    """The service's non-secret values every job needs (the queue service adds the job's
    identity): where Kafka is and how to talk to it, where the store and exchanges are."""
    values = {
        "QUEUE_CONTROL_TOPIC": settings.queue_control_topic,
        "TELEMETRY_INTERVAL_SECONDS": str(settings.telemetry_interval_seconds),
        "HISTORY_GIVE_UP_SECONDS": str(settings.history_give_up_seconds),
        "LOG_LEVEL": settings.log_level,
        "KAFKA_SECURITY_PROTOCOL": security_protocol(settings).value,
        "KAFKA_SASL_MECHANISM": settings.kafka_sasl_mechanism.value,
        "KAFKA_ENABLE_IDEMPOTENCE": str(settings.kafka_enable_idempotence).lower(),
        "KAFKA_MAX_MESSAGE_BYTES": str(settings.kafka_max_message_bytes),
        "ARANGO_DB": settings.arango_db,
        "BINANCE_REST_URL": settings.binance_rest_url,
        "BINANCE_FUTURES_REST_URL": settings.binance_futures_rest_url,
        "BINANCE_WS_URL": settings.binance_ws_url,
        "BINANCE_FUTURES_WS_URL": settings.binance_futures_ws_url,
        "BINANCE_REST_WEIGHT_PER_MINUTE": str(settings.binance_rest_weight_per_minute),
        "BINANCE_FUTURES_REST_WEIGHT_PER_MINUTE": str(
            settings.binance_futures_rest_weight_per_minute
        ),
        "MOEX_WS_URL": settings.moex_ws_url,
        "MOEX_ISS_URL": settings.moex_iss_url,
        "MOEX_DOMAIN": settings.moex_domain,
    }
    return values | _optional_values(settings)


def _optional_values(settings: Settings) -> dict[str, str]:
    optional: dict[str, object] = {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "KAFKA_TOPIC_PARTITIONS": settings.kafka_topic_partitions,
        "KAFKA_TOPIC_REPLICATION_FACTOR": settings.kafka_topic_replication_factor,
        "ARANGO_URL": settings.arango_url,
    }
    if not settings.arango_url:  # embedded: jobs share the service's SQLite file
        optional |= {
            "SQLITE_PATH": settings.database_path.resolve(),
            "DATA_DIR": settings.data_dir.resolve(),
        }
    return {name: str(value) for name, value in optional.items() if value}


def secret_values(settings: Settings) -> dict[str, str]:
    """The service's value of each secret variable (what the Secret holds in a cluster)."""
    values = {
        "KAFKA_USER": settings.kafka_user,
        "KAFKA_PASSWORD": settings.kafka_password.get_secret_value()
        if settings.kafka_password
        else None,
        "ARANGO_USER": settings.arango_user,
        "ARANGO_PASSWORD": settings.arango_password.get_secret_value(),
        "MOEX_LOGIN": settings.moex_login,
        "MOEX_PASSCODE": settings.moex_passcode.get_secret_value(),
    }
    return {name: value for name, value in values.items() if value}


def process_environment(
    environment: JobEnvironment, settings: Settings, inherited: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of a local job process: the contract, with the service's secret
    values and CA file, plus PROCESS_BASICS from the service's own environment."""
    inherited = os.environ if inherited is None else inherited
    basics = {name: inherited[name] for name in PROCESS_BASICS if name in inherited}
    known = secret_values(settings)
    secrets = {name: known[name] for name in environment.secrets if name in known}
    ca = {"CA_PATH": str(environment.kafka_ca.resolve())} if environment.kafka_ca else {}
    return {**basics, **environment.values, **ca, **secrets}
