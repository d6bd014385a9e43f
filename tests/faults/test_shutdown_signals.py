"""Ctrl-C is as clean as SIGTERM, with a real `queue-manager serve` and its embedded broker.

In a terminal, Ctrl-C sends SIGINT to the whole foreground process group. Must hold, for
SIGINT to the service's process group as for SIGTERM to the service alone: the service
ends in bounded time (no job needs the SIGKILL after JOB_STOP_GRACE_SECONDS); every job
ends `stopped` with the reason "stopped: the service shut down" and no log tail; the
jobs' final telemetry (sent as they stop) is applied, so the embedded broker outlived them;
the log has no Kafka connection errors; the broker is gone afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from app.bus.embedded import free_port
from tests.fixtures.eventually import eventually_sync
from tests.seed_examples import BASIC

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]
REASON = "stopped: the service shut down"
GRACE_SECONDS = 10
BOUND_SECONDS = 8.0
"""Below the grace period: a job that had to be killed would take longer."""
DEMO = {
    "command": ["python", "-m", "app.workers", "demo-job"],
    "env": {"DEMO_JSON": json.dumps({"records": 10_000_000, "interval_ms": 50, "batch": 10})},
}
KAFKA_ERRORS = ("Unable connect", "Unable to update metadata", "KafkaConnectionError")


class Serve:
    """`queue-manager serve` in a process group of its own, as a shell runs it."""

    def __init__(self, root: Path) -> None:
        self.data_dir = root / "var"
        self.log = root / "service.log"
        self.broker_port = free_port()
        self.url = f"http://127.0.0.1:{free_port()}"
        (root / "targets.json").write_text(
            json.dumps({"loader-producer": DEMO, "arango-connector": DEMO})
        )
        env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
        env.update(
            DATA_DIR=str(self.data_dir),
            TARGETS_FILE=str(root / "targets.json"),
            EMBEDDED_BROKER_PORT=str(self.broker_port),
            JOB_STOP_GRACE_SECONDS=str(GRACE_SECONDS),
            TELEMETRY_INTERVAL_SECONDS="0.5",
        )
        argv = [sys.executable, "-c", "from app.cli import main; main()", "serve"]
        argv += ["--port", self.url.rsplit(":", 1)[1]]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                argv, env=env, stdout=log, stderr=log, start_new_session=True
            )

    def wait_ready(self, within: float = 60) -> None:
        def ready() -> bool:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{self.url}/health/ready", timeout=1).status_code == 200
            return False

        eventually_sync(ready, within=within, what="readiness")

    def broker_alive(self) -> bool:
        marker = f"tcp://127.0.0.1:{self.broker_port}".encode()
        for proc in Path("/proc").iterdir():
            with contextlib.suppress(OSError):
                if proc.name.isdigit() and marker in (proc / "cmdline").read_bytes():
                    return True
        return False


@contextlib.contextmanager
def serving(root: Path) -> Iterator[Serve]:
    serve = Serve(root)
    try:
        serve.wait_ready()
        yield serve
    finally:
        if serve.process.poll() is None:
            os.killpg(serve.process.pid, signal.SIGKILL)
            serve.process.wait(10)


def loading_with_records(client: httpx.Client, queue_id: str) -> bool:
    jobs = client.get(f"/queues/{queue_id}").json()["data"]["jobs"]
    return all(job["status"] == "loading" and job["records_written"] > 0 for job in jobs)


def final_reports(data_dir: Path) -> dict[str, dict[str, Any]]:
    """Each job's last telemetry as its own log says it was acknowledged by the broker."""
    finals = {}
    for log in (data_dir / "jobs").glob("*/*.log"):
        lines = [orjson.loads(line) for line in log.read_bytes().splitlines() if line[:1] == b"{"]
        sent = [line for line in lines if line.get("event") == "telemetry"]
        finals[log.stem] = sent[-1]
    return finals


def stored_queues(data_dir: Path) -> list[dict[str, Any]]:
    with contextlib.closing(sqlite3.connect(data_dir / "queue-manager.db")) as db:
        return [orjson.loads(row[0]) for row in db.execute("SELECT doc FROM queues")]


@pytest.mark.parametrize("how", ["SIGINT to the process group", "SIGTERM to the service"])
def test_shutdown_stops_every_job_cleanly_and_the_broker_last(tmp_path: Path, how: str) -> None:
    with serving(tmp_path) as serve, httpx.Client(base_url=serve.url, timeout=30) as client:
        ids = [client.post("/queues/start", json=BASIC).json()["data"]["queue_id"] for _ in "ab"]
        eventually_sync(
            lambda: all(loading_with_records(client, queue_id) for queue_id in ids),
            within=60,
            what="every job loading with records",
        )
        started = time.monotonic()
        if how.startswith("SIGINT"):
            os.killpg(serve.process.pid, signal.SIGINT)
        else:
            serve.process.send_signal(signal.SIGTERM)
        serve.process.wait(60)
        elapsed = time.monotonic() - started
        assert not serve.broker_alive(), "the embedded broker outlived the service"
    shutdown = serve.log.read_text().split('"queue-manager stopping"', 1)[1]
    assert elapsed < BOUND_SECONDS, f"shutdown took {elapsed:.1f} s"
    assert not [line for line in shutdown.splitlines() if any(e in line for e in KAFKA_ERRORS)]
    finals = final_reports(serve.data_dir)
    for queue in stored_queues(serve.data_dir):
        assert (queue["status"], queue["error_message"]) == ("stopped", REASON), queue
        for job in queue["jobs"]:
            assert (job["status"], job["error_message"]) == ("stopped", REASON), job
            final = finals[job["name"]]
            assert final["status"] == "stopped", final
            assert (job["seq"], job["records_written"]) == (final["seq"], final["records_written"])
