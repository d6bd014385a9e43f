"""Two service instances on one ArangoDB (the fake server in every run, a real one too when
ARANGO_URL is set), both schedulers on one clock: every slot runs once, whichever claims it."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.arango_http import FakeArango, reply
from tests.fixtures.app import scripted
from tests.fixtures.arango import ARANGO_KINDS, arango_settings, fresh_database, server_url
from tests.fixtures.clock import ManualClock
from tests.fixtures.metrics import sample

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
QUICK = {"loader-producer": scripted("exit", "0"), "arango-connector": scripted("exit", "0")}
STEPS = 8


@pytest.mark.parametrize("kind", ARANGO_KINDS)
async def test_two_replicas_run_each_slot_once(
    app_with: Any, fake_arango: FakeArango, tmp_path: Path, kind: str
) -> None:
    url = server_url(kind, fake_arango)
    clock = ManualClock(T0)
    async with fresh_database(url, create=False) as database:
        store = arango_settings(url, database)
        common: dict[str, Any] = {
            "targets": QUICK,
            "clock": clock,
            "arango_url": url,
            "arango_db": database,
            "arango_user": store.arango_user,
            "arango_password": store.arango_password.get_secret_value(),
        }
        async with (
            app_with(data_dir=tmp_path / "a", **common) as first,
            app_with(data_dir=tmp_path / "b", **common) as second,
        ):
            created = await first.client.post(
                "/schedules",
                json={
                    "name": "shared",
                    "cron": "*/10 * * * * *",
                    "concurrency": "allow",
                    "queue": {"symbol": "BTCUSDT", "type": "api", "time_range": "today"},
                },
            )
            assert created.status_code == 201, created.text
            schedule_id = created.json()["data"]["id"]
            await clock.settled(2)
            for _ in range(STEPS):
                clock.advance(10)
                await clock.settled(2)

            seen = [await qm.client.get(f"/schedules/{schedule_id}") for qm in (first, second)]
            decided = [
                [
                    {k: v for k, v in run.items() if k != "status"}
                    for run in s.json()["data"]["runs"]
                ]
                for s in seen
            ]
            assert decided[0] == decided[1], "both replicas read the same runs"
            runs = seen[0].json()["data"]["runs"]
            slots = [run["slot"] for run in runs]
            assert len(slots) == STEPS and len(set(slots)) == STEPS
            assert {run["outcome"] for run in runs} == {"triggered"}
            queues = (await second.client.get("/queues", params={"limit": 500})).json()["data"]
            made = Counter(q["schedule"]["slot"] for q in queues if q.get("schedule"))
            assert made == Counter(slots), "one queue per slot"
            counted = sum(
                sample(
                    qm.state.metrics, "schedule_runs_total", schedule="shared", outcome="triggered"
                )
                for qm in (first, second)
            )
            assert counted == STEPS, "each run announced by the one replica that claimed it"


async def test_readiness_names_the_scheduler_while_its_passes_fail(
    app_with: Any, fake_arango: FakeArango, tmp_path: Path
) -> None:
    """ArangoDB answers the schedules query with a proxy's 502: readiness says `scheduler`
    and why; once the store answers again, the next pass clears it."""
    clock = ManualClock(T0)
    async with fresh_database(fake_arango.url, create=False) as database:
        common: dict[str, Any] = {"arango_url": fake_arango.url, "arango_db": database}
        async with app_with(targets=QUICK, clock=clock, **common) as qm:
            await clock.settled()
            failing = reply(502, "<html>Bad Gateway</html>")
            fake_arango.fail("POST", r"_api/cursor$", failing, times=1000)
            try:
                clock.advance(30)
                await clock.settled()
                ready = await qm.client.get("/health/ready")
            finally:
                fake_arango.faults.clear()  # the fake is the session's
            assert ready.status_code == 503
            assert "could not list schedules" in ready.json()["data"]["scheduler"]
            clock.advance(30)
            await clock.settled()
            assert (await qm.client.get("/health/ready")).json()["data"]["scheduler"] == "ok"
