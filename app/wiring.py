"""Choosing adapters from configuration: the mode follows the settings (design brief)."""

from __future__ import annotations

import os

from app.aio import Supervisor
from app.config import LauncherKind, Settings
from app.launchers.base import JobLauncher
from app.launchers.local import LocalLauncher
from app.launchers.targets import load_registry
from app.store.base import CoverageStore, QueueStore, ScheduleStore
from app.store.sqlite import SqliteQueueStore
from app.store.sqlite_coverage import SqliteCoverageStore
from app.store.sqlite_schedules import SqliteScheduleStore


def make_store(settings: Settings) -> QueueStore:
    """ARANGO_URL set means ArangoDB; otherwise the embedded SQLite file."""
    if settings.arango_url:
        from app.store.arango import ArangoQueueStore

        store: QueueStore = ArangoQueueStore(settings)
        return store
    return SqliteQueueStore(settings.database_path)


def make_schedule_store(settings: Settings) -> ScheduleStore:
    """Schedules live beside the queues: the same ArangoDB, or the same SQLite file."""
    if settings.arango_url:
        from app.store.arango_schedules import ArangoScheduleStore

        store: ScheduleStore = ArangoScheduleStore(settings)
        return store
    return SqliteScheduleStore(settings.database_path)


def make_coverage_store(settings: Settings) -> CoverageStore:
    """The coverage map lives beside the queues: the same ArangoDB, or the same SQLite file."""
    if settings.arango_url:
        from app.store.arango_coverage import ArangoCoverageStore

        store: CoverageStore = ArangoCoverageStore(settings)
        return store
    return SqliteCoverageStore(settings.database_path)


def make_launcher(settings: Settings, supervisor: Supervisor) -> JobLauncher:
    """Kubernetes Jobs in a cluster (its watch runs under `supervisor`), else local jobs."""
    registry = load_registry(settings.targets_file)
    if _kubernetes_wanted(settings):
        from app.launchers.kubernetes import KubernetesLauncher

        return KubernetesLauncher.from_settings(settings, registry, supervisor)
    return LocalLauncher(registry, settings.jobs_dir, settings)


def _kubernetes_wanted(settings: Settings) -> bool:
    """JOB_LAUNCHER=kubernetes, or `auto` inside a cluster (its service env is set)."""
    if settings.job_launcher is LauncherKind.AUTO:
        return "KUBERNETES_SERVICE_HOST" in os.environ
    return settings.job_launcher is LauncherKind.KUBERNETES
