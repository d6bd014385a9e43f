"""The job environment contract: a job's Kafka client options, derived from the environment
its launcher gives it (a pod: values, secrets resolved, mounts mapped; a local process),
equal the service's own, in every security mode; and nothing else reaches it."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

from app.bus.options import client_options, producer_options, topic_sizing
from app.config import KafkaSettings, Settings
from app.launchers.base import JobSpec
from app.launchers.job_environment import (
    PROCESS_BASICS,
    job_environment,
    process_environment,
    service_values,
)
from app.launchers.k8s_render import render_job
from app.launchers.targets import default_registry
from app.naming import job_name
from app.workers.base import JobEnv
from tests.fixtures.certificates import write_self_signed_ca
from tests.fixtures.pods import pod_environment

QUEUE = "5f1c2a9e-7d3b-4c1e-9a2f-0b6d8e4c3a21"
CA = "CA"
MODES: dict[str, dict[str, Any]] = {
    "plaintext": {},
    "sasl-plaintext-plain": {
        "kafka_security_protocol": "SASL_PLAINTEXT",
        "kafka_sasl_mechanism": "PLAIN",
    },
    "sasl-plaintext-scram-256": {
        "kafka_security_protocol": "SASL_PLAINTEXT",
        "kafka_sasl_mechanism": "SCRAM-SHA-256",
    },
    "sasl-ssl-scram-256-with-ca": {
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "SCRAM-SHA-256",
        "ca_path": CA,
    },
    "sasl-ssl-inferred-with-ca": {"ca_path": CA},
    "sasl-ssl-inferred-public-certificates": {},
    "ssl-with-ca": {"kafka_security_protocol": "SSL", "ca_path": CA},
    "ssl-public-certificates": {"kafka_security_protocol": "SSL"},
}
WITH_USER = {name for name in MODES if name.startswith("sasl")}


def service_settings(mode: str, tmp_path: Path, **extra: Any) -> Settings:
    values = dict(MODES[mode])
    if values.get("ca_path") == CA:
        values["ca_path"] = write_self_signed_ca(tmp_path / "service-ca.pem")
    if mode in WITH_USER:
        values |= {"kafka_user": "svc", "kafka_password": "s3cret"}
    return Settings(
        _env_file=None,
        kafka_bootstrap_servers="kafka-1:9093,kafka-2:9093",
        kafka_topic_replication_factor=3,
        arango_url="http://arangodb:8529",
        arango_password="arango-pw",
        api_tokens="token-a",
        **values,
        **extra,
    )


def spec_for(settings: Settings, target: str = "arango-connector") -> JobSpec:
    identity = {"QUEUE_ID": QUEUE, "TARGET": target, "JOB_TYPE": "api_candles_1m"}
    name = job_name(QUEUE, target, "api_candles_1m")
    env = {**service_values(settings), **identity, "JOB_NAME": name}
    return JobSpec(QUEUE, name, target, "api_candles_1m", env)


def the_secret(settings: Settings) -> dict[str, str]:
    """What README's Deploy section tells the operator to put in K8S_SECRET_NAME."""
    data = {"ARANGO_USER": "root", "ARANGO_PASSWORD": "arango-pw"}
    data |= {"MOEX_LOGIN": "guest", "MOEX_PASSCODE": "guest"}
    if settings.kafka_user:
        data |= {"KAFKA_USER": "svc", "KAFKA_PASSWORD": "s3cret"}
    if settings.ca_path:
        data["ca.crt"] = Path(settings.ca_path).read_text()
    return data


def as_job(env: dict[str, str]) -> JobEnv:
    """The job's settings from exactly `env` (model_validate reads no process environment)."""
    return JobEnv.model_validate({name.lower(): value for name, value in env.items()})


def kafka_view(settings: KafkaSettings) -> dict[str, Any]:
    """Every client option, TLS contexts compared by what they verify and trust."""
    options = {**client_options(settings), **producer_options(settings)}
    context = options.pop("ssl_context", None)
    if isinstance(context, ssl.SSLContext):
        options["tls"] = (context.verify_mode, context.check_hostname, context.get_ca_certs())
    return options | {"topics": topic_sizing(settings)}


def pod_env_of(settings: Settings, tmp_path: Path, target: str = "arango-connector") -> Any:
    job = render_job(spec_for(settings, target), default_registry()[target], settings)
    return pod_environment(job, the_secret(settings), tmp_path / "mounts")


def local_env_of(settings: Settings, target: str = "arango-connector") -> dict[str, str]:
    spec = spec_for(settings, target)
    environment = job_environment(spec, default_registry()[target], settings)
    return process_environment(environment, settings, inherited={"PATH": "/usr/bin"})


@pytest.mark.parametrize("mode", sorted(MODES))
def test_a_pods_kafka_options_equal_the_services(mode: str, tmp_path: Path) -> None:
    settings = service_settings(mode, tmp_path)
    job = as_job(pod_env_of(settings, tmp_path))
    assert kafka_view(job) == kafka_view(settings)


@pytest.mark.parametrize("mode", sorted(MODES))
def test_a_local_jobs_kafka_options_equal_the_services(mode: str, tmp_path: Path) -> None:
    settings = service_settings(mode, tmp_path)
    assert kafka_view(as_job(local_env_of(settings))) == kafka_view(settings)


def test_idempotence_and_topic_sizing_reach_the_job(tmp_path: Path) -> None:
    settings = service_settings("plaintext", tmp_path, kafka_enable_idempotence=False)
    job = as_job(pod_env_of(settings, tmp_path))
    assert producer_options(job)["enable_idempotence"] is False
    assert topic_sizing(job) == (-1, 3)


@pytest.mark.parametrize("target", ["loader-producer", "arango-connector"])
def test_local_and_pod_environments_are_the_same_but_for_process_basics(
    target: str, tmp_path: Path
) -> None:
    settings = service_settings("sasl-ssl-scram-256-with-ca", tmp_path)
    pod = pod_env_of(settings, tmp_path, target)
    local = local_env_of(settings, target)
    image = {"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "LANG"}
    assert set(pod) - image == set(local) - set(PROCESS_BASICS)
    differing = {k for k in set(pod) & set(local) - image if pod[k] != local[k]}
    assert differing == {"CA_PATH"}  # the same CA, mounted in the pod, the service's file here
    assert Path(pod["CA_PATH"]).read_text() == Path(local["CA_PATH"]).read_text()


def test_nothing_of_the_services_own_reaches_a_job(tmp_path: Path) -> None:
    settings = service_settings("sasl-ssl-inferred-with-ca", tmp_path)
    for env in (pod_env_of(settings, tmp_path), local_env_of(settings)):
        assert "API_TOKENS" not in env and "token-a" not in env.values()
        assert not {name for name in env if name.startswith(("K8S_", "WS_", "JOB_LAUNCHER"))}
    loader = local_env_of(settings, "loader-producer")
    assert "ARANGO_PASSWORD" not in loader and "KAFKA_PASSWORD" in loader


def test_every_variable_of_the_contract_is_a_job_setting(tmp_path: Path) -> None:
    settings = service_settings("sasl-ssl-inferred-with-ca", tmp_path)
    # read by the connector's and loaders' own settings
    read_by_targets = {"COLLECTION", "RESUME_FROM", "HISTORY_GIVE_UP_SECONDS"}
    fields = {name.upper() for name in JobEnv.model_fields}
    assert set(local_env_of(settings)) - set(PROCESS_BASICS) <= fields | read_by_targets


def test_job_settings_hold_nothing_of_the_services_own() -> None:
    service_only = set(Settings.model_fields) - set(JobEnv.model_fields)
    assert {"api_tokens", "host", "port", "k8s_secret_name", "job_launcher"} <= service_only
    assert not {"api_tokens", "allow_unauthenticated", "kubeconfig"} & set(JobEnv.model_fields)
