"""What a job sees: its environment (the job-environment contract) and its context.

Job code is written against these protocols; app/workers/runtime.py provides the real
context (telemetry over Kafka, stop commands, SIGTERM), tests may provide their own sink.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

import orjson
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from app.config import ExchangeSettings, KafkaSettings, LogLevel, StoreSettings
from app.workers.gaps import GapSummary
from app.workers.weight_budget import WeightBudget


class JobEnv(KafkaSettings, StoreSettings, ExchangeSettings):
    """A job's settings: the queue's identity and where Kafka, the store and the exchanges
    are, and nothing of the service's own (no tokens, no Kubernetes, no HTTP settings).

    The service fills it through the job environment contract
    (app/launchers/job_environment.py); `python -m app.workers --help` lists it.
    """

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    queue_id: str = Field(description="the queue this job belongs to")
    target: str = Field(description="loader-producer, arango-connector, ...")
    job_type: str = Field(description="the request's type, e.g. api_candles_1m")
    job_name: str = Field(description="the job's name (its first attempt's process or Job)")
    job_attempt: int = Field(default=1, ge=1, description="which attempt this run is")
    job_max_attempts: int = Field(default=1, ge=1, description="attempts its policy allows")
    records_before: int = Field(
        default=0, ge=0, description="records its earlier attempts wrote (counted on)"
    )
    exchange: str = "binance"
    symbol: str = ""
    symbols: str = Field(default="", description="comma-separated tickers")
    time_range: str = Field(default="", description="START:END")
    kafka_topic: str = Field(default="", description="the queue's data topic")
    request_json: str = Field(default="{}", description="the pipeline request (JSON)")
    log_level: LogLevel = "INFO"
    telemetry_interval_seconds: float = Field(default=5.0, gt=0, le=3600)
    binance_rest_weight_share: int | None = Field(
        default=None, ge=1, description="REST weight a minute this loader may send (its share)"
    )
    binance_rest_weight_share_version: int = Field(default=0, ge=0, le=2**63 - 1)
    binance_rest_loaders: int = Field(default=1, ge=1, description="loaders sharing the budget")
    binance_rest_weight_window_seconds: float = Field(
        default=60.0, gt=0, le=3600, description="the budget's window: Binance counts a minute"
    )

    @property
    def symbol_list(self) -> list[str]:
        listed = [s for s in self.symbols.split(",") if s]
        return listed or ([self.symbol] if self.symbol else [])

    @property
    def binance_rest_budget(self) -> int:
        """The whole REST weight budget of this job's market (spot and futures apart)."""
        if self.exchange == "binance-futures":
            return self.binance_futures_rest_weight_per_minute
        return self.binance_rest_weight_per_minute

    @property
    def request(self) -> dict[str, Any]:
        loaded = orjson.loads(self.request_json)
        return loaded if isinstance(loaded, dict) else {}


class RecordSink(Protocol):
    """Where a job's records go: batches to the queue's Kafka topic, keyed by symbol."""

    async def send(self, records: Sequence[dict[str, Any]], key_field: str = "symbol") -> None:
        """Deliver every record or raise; never drop silently."""

    async def flush(self) -> None: ...


class JobContext(Protocol):
    """The running job's handle on the runtime."""

    env: JobEnv
    stop_requested: asyncio.Event
    sink: RecordSink

    @property
    def weight_budget(self) -> WeightBudget:
        """This job's share of its exchange's REST weight budget: every REST request
        spends its weight here first (app/workers/weight_budget.py)."""

    def progress(self, records_written: int, last_loaded_timestamp: str | None = None) -> None:
        """Record progress; the runtime sends it as telemetry every interval and at the end."""

    def warn(self, message: str) -> None:
        """A notable event (reconnect, silent stream) the user should see in telemetry."""

    def retrying(
        self,
        key: str,
        attempt: int,
        error: str,
        wait_seconds: float,
        max_attempts: int | None = None,
    ) -> None:
        """Attempt `attempt` of `key` (an endpoint, a connection) failed: the job's health
        is `retrying` until `recovered(key)` (app/workers/health.py)."""

    def recovered(self, key: str) -> None:
        """`key` works again."""

    def report_gaps(self, summary: GapSummary) -> None:
        """The job's gaps changed (app/workers/gaps.py): reported now, not next interval."""
