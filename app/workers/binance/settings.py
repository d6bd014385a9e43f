"""Tuning of the Binance loaders: every timing and limit, so tests can run them fast.

Read from `BINANCE_*` environment variables; defaults follow protocols/binance.md.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class BinanceTuning(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BINANCE_", extra="ignore", populate_by_name=True)

    # REST
    request_timeout_s: float = Field(default=10.0, gt=0)
    retry_initial_s: float = Field(default=0.5, gt=0)
    retry_max_s: float = Field(default=30.0, gt=0)
    retry_jitter_s: float = Field(default=1.0, ge=0)
    retry_attempts: int = Field(default=20, ge=1)
    give_up_s: float = Field(
        default=120.0,
        gt=0,
        validation_alias="HISTORY_GIVE_UP_SECONDS",
        description="a history load ends in error once Binance is unreachable this long",
    )
    batch_size: int = Field(default=1000, ge=1)
    # WebSocket
    streams_per_connection: int | None = Field(default=None, ge=1)
    url_streams_max: int = Field(default=100, ge=1)
    subscribe_chunk: int = Field(default=50, ge=1)
    messages_per_second: float | None = Field(default=None, gt=0)
    connection_lifetime_s: float = Field(default=23.5 * 3600, gt=0)
    rotation_overlap_s: float = Field(
        default=10.0,
        gt=0,
        description="how long two sessions may overlap while streams move to the new one",
    )
    silence_timeout_s: float = Field(default=120.0, gt=0)
    watchdog_interval_s: float = Field(default=1.0, gt=0)
    reconnect_initial_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=30.0, gt=0)
    reconnect_jitter_s: float = Field(default=1.0, ge=0)
    depth_snapshot_limit: int | None = Field(default=None, ge=1)
