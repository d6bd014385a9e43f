"""Readiness reasons: per dependency and per supervised task, in words, never a local path."""

from __future__ import annotations

import asyncio

from app.errors import StoreUnavailable
from app.health import HealthChecks, without_paths


async def test_reasons_name_what_is_wrong_without_local_paths() -> None:
    async def store() -> None:
        raise StoreUnavailable("SQLite store /srv/qm/var/queue-manager.db: disk I/O error")

    async def broker() -> None:
        raise KeyError("/srv/qm/secret")

    async def hung() -> None:
        await asyncio.Event().wait()

    checks = HealthChecks(timeout_seconds=0.05)
    checks.add("store", store)
    checks.add("broker", broker)
    checks.add("jobs", hung)
    checks.add_source("task:", lambda: {"dispatcher": "ok", "fanout": "down, restarting"})
    report = await checks.run()
    assert report == {
        "store": "SQLite store <path>: disk I/O error",
        "broker": "unexpected KeyError (see the service log)",
        "jobs": "no answer within 0.05 s",
        "task:dispatcher": "ok",
        "task:fanout": "down, restarting",
    }


def test_urls_and_ratios_are_not_taken_for_paths() -> None:
    text = "ArangoDB: http://127.0.0.1:8529/_db/_system/_api refused; 503/504; a/b"
    assert without_paths(text) == text
