"""One service per data directory, with real `queue-manager serve` processes.

Must hold: a second `serve` on a DATA_DIR in use exits 2 with one line naming the first
one's PID and the directory, before it runs recovery, touches a queue or starts a broker
(it is given no KAFKA_BOOTSTRAP_SERVERS, so getting that far would start one); the first
instance's queue, jobs and processes are untouched and stoppable; a lock left by a killed
service never blocks a restart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.bus.embedded import free_port
from tests.faults.test_crash_safety import live_jobs
from tests.fixtures.app import scripted
from tests.fixtures.service import service
from tests.seed_examples import BASIC

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
SLOW = {"loader-producer": scripted("sleep", "60"), "arango-connector": scripted("sleep", "60")}


def environment(tmp_path: Path, bootstrap: str) -> dict[str, str]:
    (tmp_path / "targets.json").write_text(json.dumps(SLOW))
    topics = f"t{uuid.uuid4().hex[:10]}"
    return {
        "DATA_DIR": str(tmp_path / "var"),
        "TARGETS_FILE": str(tmp_path / "targets.json"),
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_TOPIC_PARTITIONS": "1",
        "QUEUE_CONTROL_TOPIC": f"{topics}.queue-control",
        "QUEUE_EVENTS_TOPIC": f"{topics}.queue-events",
        "QUEUE_CONTROL_DLQ_TOPIC": f"{topics}.queue-control.dlq",
        "KAFKA_CONSUMER_GROUP": f"{topics}.queue-manager",
        "JOB_STOP_GRACE_SECONDS": "1",
    }


def second_serve(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`serve` once more on the same DATA_DIR, as `make run` twice would."""
    alone = {k: v for k, v in {**os.environ, **env}.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    argv = [sys.executable, "-c", "from app.cli import main; main()", "serve"]
    argv += ["--port", str(free_port())]
    return subprocess.run(argv, env=alone, capture_output=True, text=True, timeout=60, check=False)


def test_a_second_serve_on_the_same_data_dir_exits_2_and_touches_nothing(
    tmp_path: Path, broker: Any
) -> None:
    env = environment(tmp_path, broker.bootstrap)
    data_dir = Path(env["DATA_DIR"])
    with service(env, tmp_path / "first.log") as first:
        with httpx.Client(base_url=first.url, timeout=30) as client:
            queue_id = (client.post("/queues/start", json=BASIC)).json()["data"]["queue_id"]
            before = (client.get(f"/queues/{queue_id}")).json()["data"]
            names = {job["name"] for job in before["jobs"]}
            assert set(live_jobs(data_dir)) == names

            second = second_serve(env)

            assert second.returncode == 2, second.stderr
            lines = second.stderr.strip().splitlines()
            assert len(lines) == 1, second.stderr
            assert f"PID {first.process.pid}" in lines[0] and str(data_dir.resolve()) in lines[0]
            assert not (data_dir / "embedded-broker.log").exists(), "the second one got far"
            after = (client.get(f"/queues/{queue_id}")).json()["data"]
            assert [j["status"] for j in after["jobs"]] == [j["status"] for j in before["jobs"]]
            assert after["revision"] == before["revision"] and not after["error_message"]
            assert live_jobs(data_dir) == {name: 1 for name in names}
            stopped = client.post("/queues/stop", params={"queue_id": queue_id})
            assert stopped.status_code == 200, stopped.text
        first.kill()
    with service(env, tmp_path / "restart.log"):
        pass  # ready: the lock of the killed service did not block it
