"""Choosing adapters from configuration: the mode follows the settings (design brief)."""

from __future__ import annotations

import os

from app.config import LauncherKind, Settings
from app.launchers.base import JobLauncher
from app.launchers.local import LocalLauncher
from app.launchers.targets import load_registry
from app.store.base import QueueStore
from app.store.sqlite import SqliteQueueStore


def make_store(settings: Settings) -> QueueStore:
    """ARANGO_URL set means ArangoDB; otherwise the embedded SQLite file."""
    if settings.arango_url:
        from app.store.arango import ArangoQueueStore

        store: QueueStore = ArangoQueueStore(settings)
        return store
    return SqliteQueueStore(settings.database_path)


def make_launcher(settings: Settings) -> JobLauncher:
    registry = load_registry(settings.targets_file)
    if _kubernetes_wanted(settings):
        from app.launchers.kubernetes import KubernetesLauncher

        return KubernetesLauncher.from_settings(settings, registry)
    return LocalLauncher(registry, settings.jobs_dir, extra_env={})


def _kubernetes_wanted(settings: Settings) -> bool:
    """JOB_LAUNCHER=kubernetes, or `auto` inside a cluster (its service env is set)."""
    if settings.job_launcher is LauncherKind.AUTO:
        return "KUBERNETES_SERVICE_HOST" in os.environ
    return settings.job_launcher is LauncherKind.KUBERNETES


def job_environment(settings: Settings) -> dict[str, str]:
    """The non-secret part of every job's environment: where the broker and store are."""
    env = {
        "QUEUE_CONTROL_TOPIC": settings.queue_control_topic,
        "TELEMETRY_INTERVAL_SECONDS": str(settings.telemetry_interval_seconds),
        "HISTORY_GIVE_UP_SECONDS": str(settings.history_give_up_seconds),
        "ARANGO_DB": settings.arango_db,
        "LOG_LEVEL": settings.log_level,
        "BINANCE_REST_URL": settings.binance_rest_url,
        "BINANCE_FUTURES_REST_URL": settings.binance_futures_rest_url,
        "BINANCE_WS_URL": settings.binance_ws_url,
        "BINANCE_FUTURES_WS_URL": settings.binance_futures_ws_url,
        "MOEX_WS_URL": settings.moex_ws_url,
    }
    optional = {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "ARANGO_URL": settings.arango_url,
        "SQLITE_PATH": None if settings.arango_url else str(settings.database_path.resolve()),
        "DATA_DIR": str(settings.data_dir.resolve()),
    }
    env.update({key: value for key, value in optional.items() if value})
    return env
