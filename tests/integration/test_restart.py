"""Restarts: queues survive on disk; jobs of a killed service are settled, never left loading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.fixtures.app import scripted
from tests.fixtures.processes import wait_for_exit
from tests.fixtures.service import service
from tests.seed_examples import BASIC

SLOW = {"loader-producer": scripted("sleep", "60"), "arango-connector": scripted("sleep", "60")}
QUICK = {"loader-producer": scripted("exit", "0"), "arango-connector": scripted("exit", "0")}


async def test_queues_on_disk_survive_a_restart(app_with: Any) -> None:
    async with app_with(targets=QUICK) as qm:
        queue_id = await qm.start(BASIC)
        before = await qm.wait_for(queue_id, lambda q: q["status"] == "finished")
    async with app_with(targets=QUICK) as qm:
        after = await qm.queue(queue_id)
        assert after == before


async def test_killed_service_takes_its_jobs_along_and_restart_settles_them(
    tmp_path: Path, app_with: Any
) -> None:
    (tmp_path / "targets.json").write_text(json.dumps(SLOW))
    env = {"DATA_DIR": str(tmp_path / "var"), "TARGETS_FILE": str(tmp_path / "targets.json")}
    with service(env, tmp_path / "service.log") as running:
        async with httpx.AsyncClient(base_url=running.url, timeout=10) as client:
            reply = (await client.post("/queues/start", json=BASIC)).json()
            queue_id = reply["data"]["queue_id"]
            queue = (await client.get(f"/queues/{queue_id}")).json()["data"]
        pids = [int(job["launcher_ref"]) for job in queue["jobs"]]
        running.kill()
    for pid in pids:
        await wait_for_exit(pid, within=3, what=f"job {pid} gone with the killed service")
    async with app_with(targets=SLOW) as qm:
        settled = await qm.queue(queue_id)
        assert settled["status"] == "error"
        assert all("service restarted" in job["error_message"] for job in settled["jobs"])
