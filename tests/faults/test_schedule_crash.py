"""A schedule's slot in progress when the service is SIGKILLed is not run again after the
restart: the real `queue-manager serve` (system clock, SQLite, the session's broker), a
schedule every two seconds, killed as soon as its first run is recorded."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults.test_crash_safety import live_jobs
from tests.fixtures.app import scripted
from tests.fixtures.eventually import eventually
from tests.fixtures.service import own_env, service

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
QUICK = {"loader-producer": scripted("exit", "0"), "arango-connector": scripted("exit", "0")}
SCHEDULE = {
    "name": "every-2s",
    "cron": "*/2 * * * * *",
    "catch_up": "none",
    "queue": {"symbol": "BTCUSDT", "type": "api", "time_range": "today"},
}


async def runs_of(client: httpx.AsyncClient, schedule_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/schedules/{schedule_id}")
    assert response.status_code == 200, response.text
    return list(response.json()["data"]["runs"])


async def test_the_slot_in_progress_at_sigkill_is_not_repeated(tmp_path: Path, broker: Any) -> None:
    env = own_env(tmp_path, broker.bootstrap, QUICK)
    log = tmp_path / "service.log"
    with service(env, log) as first:
        async with httpx.AsyncClient(base_url=first.url, timeout=10) as client:
            created = await client.post("/schedules", json=SCHEDULE)
            assert created.status_code == 201, created.text
            schedule_id = created.json()["data"]["id"]
            seen = await eventually(
                lambda: runs_of(client, schedule_id), within=15, what="a first run"
            )
            first.kill()
    in_progress = seen[-1]

    with service(env, log) as second:
        async with httpx.AsyncClient(base_url=second.url, timeout=10) as client:
            runs = await eventually(
                lambda: runs_of(client, schedule_id),
                lambda got: any(
                    r["outcome"] == "triggered" and r["slot"] > in_progress["slot"] for r in got
                ),
                within=40,
                what="a later slot run after the restart",
            )
            await client.patch(f"/schedules/{schedule_id}", json={"enabled": False})
            runs = await runs_of(client, schedule_id)
            queues = (await client.get("/queues", params={"limit": 500})).json()["data"]

    again = [run for run in runs if run["slot"] == in_progress["slot"]]
    assert [run["outcome"] for run in again] == ["triggered"], "finished once, not repeated"
    slots = Counter(run["slot"] for run in runs if not run["manual"])
    assert max(slots.values()) == 1, f"a slot decided twice: {slots}"
    triggered = {run["queue_id"] for run in runs if run["outcome"] == "triggered"}
    made = Counter(q["schedule"]["slot"] for q in queues if q.get("schedule"))
    assert max(made.values()) == 1, f"a slot made two queues: {made}"
    assert {q["id"] for q in queues if q.get("schedule")} == triggered
    assert all(count == 1 for count in live_jobs(Path(env["DATA_DIR"])).values())
