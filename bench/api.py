"""`api`: requests/s of GET /queues/{id} and POST /queues/start next to a bare FastAPI
route served the same way (uvicorn, own process) in the same run; and the p99 of a page of
100 from GET /queues with 100,000 queues stored."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import tempfile
import uuid
from pathlib import Path

import orjson

from app.bus.embedded import free_port
from app.models.queues import QueueCreate
from app.models.status import Status
from app.services.pipeline import new_queue
from app.store.sqlite import SCHEMA, _insert
from bench.httpload import get, post_json, run_load
from bench.report import Row
from bench.servers import bare_command, service_command, serving

BODY = {"symbol": "BTCUSDT", "type": "api", "time_range": "2024-01-01:2024-01-03"}
STORED = 100_000


def seed_queues(database: Path, count: int) -> str:
    """Write `count` queues in one transaction; returns one of their ids."""
    template = new_queue(QueueCreate.model_validate(BODY), "seed")
    for job in template.jobs:  # ended queues: nothing for start-up recovery to relaunch
        job.status = Status.FINISHED
    template.status = Status.FINISHED
    with sqlite3.connect(database) as db:
        db.executescript(SCHEMA)
        for _ in range(count):
            queue = template.model_copy(update={"id": str(uuid.uuid4())})
            _insert(db, queue)
    return queue.id


def environment(root: Path) -> dict[str, str]:
    targets = {"loader-producer": {"command": ["true"]}, "arango-connector": {"command": ["true"]}}
    (root / "targets.json").write_text(json.dumps(targets))
    return {
        "DATA_DIR": str(root / "var"),
        "TARGETS_FILE": str(root / "targets.json"),
        "LOG_LEVEL": "WARNING",
    }


async def _measure(seconds: float) -> list[Row]:
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        env = environment(root)
        (root / "var").mkdir()
        queue_id = seed_queues(root / "var" / "queue-manager.db", STORED)
        port = free_port()
        with serving(bare_command(port), port, health="/bare/x"):
            bare = await run_load(port, get("/bare/abc"), seconds)
        port = free_port()
        with serving(service_command(port), port, env):
            one = await run_load(port, get(f"/queues/{queue_id}"), seconds)
            page = await run_load(port, get("/queues?limit=100"), seconds, connections=1)
            start = await run_load(
                port, post_json("/queues/start", orjson.dumps(BODY)), seconds, connections=4
            )
    return _rows(bare.rate, one.rate, start.rate, page.percentile(0.99), page.percentile(0.5))


def _rows(bare: float, get_rate: float, start_rate: float, p99: float, p50: float) -> list[Row]:
    return [
        Row("api", "bare FastAPI route", bare, "req/s"),
        Row(
            "api",
            "GET /queues/{id}",
            get_rate,
            "req/s",
            bare,
            ">= 0.5 x bare",
            get_rate / bare >= 0.5,
        ),
        Row("api", "POST /queues/start (2 local jobs each)", start_rate, "req/s", bare),
        Row("api", f"GET /queues page of 100, {STORED:,} stored, p50", p50 * 1000, "ms"),
        Row(
            "api",
            f"GET /queues page of 100, {STORED:,} stored, p99",
            p99 * 1000,
            "ms",
            None,
            "< 50 ms",
            p99 < 0.050,
        ),
    ]


def run(seconds: float = 5.0) -> list[Row]:
    return asyncio.run(_measure(seconds))
