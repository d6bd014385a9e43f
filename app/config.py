"""Settings: one object, from the environment and `.env` (pydantic-settings).

Every variable is listed with a one-line comment in `.env.example`. A wrong value stops
start-up with one line per problem naming the variable (see `settings_or_exit`).
"""

from __future__ import annotations

import sys
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_STALL_AFTER_SECONDS = 30.0


class LauncherKind(StrEnum):
    AUTO = "auto"
    LOCAL = "local"
    KUBERNETES = "kubernetes"


class KafkaSecurity(StrEnum):
    PLAINTEXT = "PLAINTEXT"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"
    SSL = "SSL"


class SaslMechanism(StrEnum):
    PLAIN = "PLAIN"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
_PART = SettingsConfigDict(extra="ignore", case_sensitive=False)


class KafkaSettings(BaseSettings):
    """How to reach Kafka and create topics: the service and every job (app/bus/options.py)."""

    model_config = _PART

    kafka_bootstrap_servers: str | None = None
    kafka_user: str | None = None
    kafka_password: SecretStr | None = None
    ca_path: Path | None = Field(default=None, description="PEM of the CA of the brokers")
    kafka_security_protocol: KafkaSecurity | None = Field(
        default=None, description="unset: SASL_SSL with KAFKA_USER, else PLAINTEXT"
    )
    kafka_sasl_mechanism: SaslMechanism = SaslMechanism.SCRAM_SHA_512
    kafka_enable_idempotence: bool = Field(
        default=True, description="idempotent producer (off for the embedded broker)"
    )
    kafka_topic_partitions: int | None = Field(
        default=None, ge=1, le=1000, description="of topics we create; unset: the broker's"
    )
    kafka_topic_replication_factor: int | None = Field(
        default=None, ge=1, le=100, description="of topics we create; unset: the broker's"
    )
    kafka_max_message_bytes: int = Field(default=1_048_576, ge=1024)
    queue_control_topic: str = "queue-control"


class StoreSettings(BaseSettings):
    """Where queue state and documents live: ArangoDB when ARANGO_URL is set, else SQLite."""

    model_config = _PART

    data_dir: Path = Path("var")
    sqlite_path: Path | None = None
    arango_url: str | None = None
    arango_db: str = "streamforge"
    arango_user: str = "root"
    arango_password: SecretStr = SecretStr("")

    @cached_property
    def database_path(self) -> Path:
        return self.sqlite_path or self.data_dir / "queue-manager.db"


class ExchangeSettings(BaseSettings):
    """Where the loaders find the exchanges (and MOEX's credentials)."""

    model_config = _PART

    binance_rest_url: str = "https://api.binance.com"
    binance_futures_rest_url: str = "https://fapi.binance.com"
    binance_ws_url: str = "wss://stream.binance.com:9443"
    binance_futures_ws_url: str = "wss://fstream.binance.com"
    binance_rest_weight_per_minute: int = Field(
        default=4800,
        ge=1,
        description="REST weight a minute shared by the running spot loaders (80 % of 6,000)",
    )
    binance_futures_rest_weight_per_minute: int = Field(
        default=1920,
        ge=1,
        description="the same for USD-M futures, which Binance counts apart (80 % of 2,400)",
    )
    moex_ws_url: str = "wss://iss.moex.com/infocx/v3/websocket"
    moex_iss_url: str = "https://iss.moex.com/iss"
    moex_domain: str = "DEMO"
    moex_login: str = "guest"
    moex_passcode: SecretStr = SecretStr("guest")


class Settings(StoreSettings, KafkaSettings, ExchangeSettings):
    """The service's settings: its own, plus the parts its jobs share (workers/base.JobEnv)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # service
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: LogLevel = "INFO"
    log_format: Literal["auto", "json", "text"] = "auto"
    health_timeout_seconds: float = Field(default=1.5, gt=0, le=10)
    task_healthy_seconds: float = Field(default=5.0, ge=0, le=3600)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_header_bytes: int = Field(default=16_384, ge=4096, le=1_048_576)
    max_header_count: int = Field(default=100, ge=10, le=127)
    max_url_bytes: int = Field(default=8000, ge=256, le=8000)
    header_timeout_seconds: float = Field(default=10.0, gt=0, le=300)

    # kafka (the service's own)
    kafka_consumer_group: str = "queue-manager"
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1000, le=300_000)
    queue_events_topic: str = "queue-events"
    queue_control_dlq_topic: str = "queue-control.dlq"
    embedded_broker_port: int = Field(default=0, ge=0, le=65535)
    kafka_topic_check_seconds: float = Field(default=15.0, gt=0, le=3600)

    # jobs
    job_launcher: LauncherKind = LauncherKind.AUTO
    job_stop_grace_seconds: float = Field(default=10.0, ge=0, le=3600)
    targets_file: Path | None = None
    telemetry_interval_seconds: float = Field(default=5.0, gt=0, le=3600)
    stall_after_seconds: float | None = Field(
        default=None, gt=0, le=86_400, description="default: 3 telemetry intervals, >= 30 s"
    )
    history_give_up_seconds: float = Field(default=120.0, gt=0, le=86_400)
    schedule_grace_seconds: float = Field(default=60.0, ge=1, le=86_400)
    binance_rest_share_refresh_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="how often every running Binance loader is sent its share again",
    )
    max_running_jobs: int | None = Field(
        default=None,
        ge=0,
        description="jobs running at once in the whole service (unset: no limit)",
    )
    target_limits: str = Field(
        default="",
        description="jobs running at once per target, like gnn-trainer=1,graph-builder=2",
    )
    loader_limits: str = Field(
        default="",
        description="loader-producers running at once per exchange, like binance=8,moex=2",
    )
    scheduling_period_seconds: float = Field(
        default=5.0, gt=0, le=3600, description="how often pending jobs are looked at anyway"
    )
    kubeconfig: Path | None = None
    k8s_namespace: str = "streamforge"
    k8s_job_image: str = "registry.example.com/streamforge/queue-manager:latest"
    k8s_service_account: str = "queue-manager-jobs"
    k8s_secret_name: str = "queue-manager-secrets"
    k8s_job_ttl_seconds: int = Field(default=3600, ge=0)
    k8s_job_backoff_limit: int = Field(default=2, ge=0, le=20)
    k8s_history_deadline_seconds: int = Field(default=86_400, ge=60)

    # websocket
    ws_heartbeat_seconds: float = Field(default=10.0, gt=0, le=3600)
    ws_client_queue_size: int = Field(default=1000, ge=10, le=1_000_000)

    # security
    api_tokens: SecretStr | None = None
    allow_unauthenticated: bool = False
    open_metrics_and_health: bool = True

    @cached_property
    def jobs_dir(self) -> Path:
        return self.data_dir / "jobs"

    @field_validator("stall_after_seconds", "max_running_jobs", mode="before")
    @classmethod
    def _empty_is_default(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("target_limits", "loader_limits")
    @classmethod
    def _limit_list(cls, value: str) -> str:
        parse_limits(value)
        return value

    @property
    def target_limit_map(self) -> dict[str, int]:
        return parse_limits(self.target_limits)

    @property
    def loader_limit_map(self) -> dict[str, int]:
        return parse_limits(self.loader_limits)

    @property
    def stall_after(self) -> float:
        """No telemetry for this long makes a starting or loading job `stalled`."""
        if self.stall_after_seconds is not None:
            return self.stall_after_seconds
        return max(MIN_STALL_AFTER_SECONDS, 3 * self.telemetry_interval_seconds)

    @property
    def token_list(self) -> list[str]:
        raw = self.api_tokens.get_secret_value() if self.api_tokens else ""
        return [token.strip() for token in raw.split(",") if token.strip()]


def parse_limits(text: str) -> dict[str, int]:
    """`binance=8,moex=2` -> {"binance": 8, "moex": 2}; ValueError says what is wrong."""
    limits: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, number = item.partition("=")
        if not name.strip() or not number.strip().isdigit():
            raise ValueError(f"expected name=count (count >= 0), got {item!r}")
        limits[name.strip()] = int(number)
    return limits


def describe_errors(error: ValidationError) -> list[str]:
    """One line per invalid variable: `PORT: Input should be a valid integer`."""
    lines = []
    for problem in error.errors():
        name = ".".join(str(part) for part in problem["loc"]).upper() or "SETTINGS"
        lines.append(f"invalid setting {name}: {problem['msg']}")
    return lines


def settings_or_exit(**overrides: object) -> Settings:
    """Load settings; on a wrong value print one line per problem and exit 2."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        for line in describe_errors(error):
            print(line, file=sys.stderr)
        raise SystemExit(2) from None
