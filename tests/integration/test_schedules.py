"""Schedules on the real app (SQLite, local jobs, the session's broker), the scheduler on a
clock the test moves: slots on time and once each, forbid/replace, catch-up after downtime,
runs claimed before a crash finished once, the REST answers, metrics and events."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.models.queues import QueueCreate, ScheduleRef
from app.models.schedules import RunOutcome, ScheduleRun, ScheduleState
from app.schedules.runs import slot_queue_id
from app.services.pipeline import new_queue
from app.store.sqlite_schedules import SqliteScheduleStore
from tests.fixtures.app import Running, scripted
from tests.fixtures.clock import ManualClock
from tests.fixtures.kafka_reader import read_topic
from tests.fixtures.metrics import sample
from tests.fixtures.wsclient import listening

T0 = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
QUICK = {"loader-producer": scripted("exit", "0"), "arango-connector": scripted("exit", "0")}
SLOW = {"loader-producer": scripted("sleep", "120"), "arango-connector": scripted("sleep", "120")}
TEMPLATE = {"symbol": "BTCUSDT", "type": "api", "time_range": "today"}


def body(**extra: Any) -> dict[str, Any]:
    return {"name": "every-10s", "cron": "*/10 * * * * *", "queue": TEMPLATE, **extra}


async def create(qm: Running, **extra: Any) -> dict[str, Any]:
    response = await qm.client.post("/schedules", json=body(**extra))
    assert response.status_code == 201, response.text
    return dict(response.json()["data"])


async def schedule_of(qm: Running, schedule_id: str) -> dict[str, Any]:
    response = await qm.client.get(f"/schedules/{schedule_id}")
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


async def scheduled_queues(qm: Running) -> list[dict[str, Any]]:
    response = await qm.client.get("/queues", params={"limit": 500})
    return [q for q in response.json()["data"] if q.get("schedule")]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def test_a_seconds_schedule_runs_each_slot_on_time_and_once(app_with: Any) -> None:
    clock = ManualClock(T0)
    async with app_with(targets=QUICK, clock=clock) as qm:
        created = await create(qm, concurrency="allow", timezone="Europe/Berlin")
        assert created["next_run_at"] == "2026-03-28T23:00:10Z"
        await clock.settled()
        for _ in range(3):
            clock.advance(10)
            await clock.settled()
        clock.advance(25)  # two slots fall due in one step: both run, once each
        await clock.settled()
        clock.set(at(5))  # the clock jumps back: nothing runs again
        await clock.settled()
        clock.set(at(55))
        await clock.settled()

        schedule = await schedule_of(qm, created["id"])
        runs = list(reversed(schedule["runs"]))
        slots = [at(10 * n) for n in range(1, 6)]
        assert [r["slot"] for r in runs] == [s.isoformat().replace("+00:00", "Z") for s in slots]
        assert {r["outcome"] for r in runs} == {"triggered"}
        assert [r["started_at"] for r in runs[:3]] == [r["slot"] for r in runs[:3]], "on time"
        queues = await scheduled_queues(qm)
        assert Counter(q["schedule"]["slot"] for q in queues) == Counter(r["slot"] for r in runs)
        assert {q["id"] for q in queues} == {r["queue_id"] for r in runs}
        one = next(q for q in queues if q["id"] == runs[0]["queue_id"])
        assert one["schedule"]["name"] == "every-10s"
        # 00:00:10 in Berlin on 29 March: "today" is the 29th there (still the 28th in UTC)
        assert one["time_range"] == "2026-03-29:2026-03-29"
        metrics = qm.state.metrics
        assert (
            sample(metrics, "schedule_runs_total", schedule="every-10s", outcome="triggered") == 5
        )
        assert sample(metrics, "schedule_lag_seconds_count", schedule="every-10s") == 5
        assert sample(metrics, "schedule_lag_seconds_sum", schedule="every-10s") == 15 + 5


async def test_forbid_skips_a_slot_while_the_previous_run_is_active_and_says_why(
    app_with: Any,
) -> None:
    clock = ManualClock(T0)
    async with app_with(targets=SLOW, clock=clock) as qm:
        created = await create(qm)
        await clock.settled()
        clock.advance(10)
        await clock.settled()
        first = (await schedule_of(qm, created["id"]))["runs"][0]
        assert first["outcome"] == "triggered" and first["status"] in ("starting", "loading")
        clock.advance(10)
        await clock.settled()
        skipped = (await schedule_of(qm, created["id"]))["runs"][0]
        assert skipped["outcome"] == "skipped" and skipped["queue_id"] is None
        assert f"queue {first['queue_id']} is still" in skipped["reason"]
        assert "forbid" in skipped["reason"]
        assert len(await scheduled_queues(qm)) == 1

        await qm.client.post("/queues/stop", params={"queue_id": first["queue_id"]})
        await qm.wait_for(first["queue_id"], lambda q: q["status"] == "stopped", within=20)
        clock.advance(10)
        await clock.settled()
        third = (await schedule_of(qm, created["id"]))["runs"][0]
        assert third["outcome"] == "triggered" and third["slot"] == "2026-03-28T23:00:30Z"
        metrics = qm.state.metrics
        assert sample(metrics, "schedule_runs_total", schedule="every-10s", outcome="skipped") == 1

        events = await read_topic(
            qm.state.settings.kafka_bootstrap_servers or "",
            qm.state.settings.queue_events_topic,
            lambda got: (
                sum(str(m.value.get("event", "")).startswith("schedule.") for m in got) >= 3
            ),
        )
        kinds = [m.value["event"] for m in events if str(m.value["event"]).startswith("schedule.")]
        assert kinds == ["schedule.triggered", "schedule.skipped", "schedule.triggered"]
        skip = next(m for m in events if m.value["event"] == "schedule.skipped")
        assert skip.key == created["id"] and skip.value["reason"] == skipped["reason"]


async def test_replace_stops_the_active_run_and_starts_the_slot(app_with: Any) -> None:
    clock = ManualClock(T0)
    async with app_with(targets=SLOW, clock=clock) as qm:
        created = await create(qm, concurrency="replace")
        await clock.settled()
        clock.advance(10)
        await clock.settled()
        first = (await schedule_of(qm, created["id"]))["runs"][0]
        clock.advance(10)
        await clock.settled()
        second = (await schedule_of(qm, created["id"]))["runs"][0]
        assert second["outcome"] == "triggered" and second["replaced"] == [first["queue_id"]]
        await qm.wait_for(first["queue_id"], lambda q: q["status"] == "stopped", within=20)
        assert (await qm.queue(second["queue_id"]))["status"] in ("starting", "loading")


@pytest.mark.parametrize(
    ("catch_up", "triggered", "missed"),
    [("none", [], 5), ("last", ["2026-03-29T04:00:00Z"], 4), ("all", None, 0)],
)
async def test_slots_missed_while_the_service_was_down_follow_catch_up(
    app_with: Any, catch_up: str, triggered: list[str] | None, missed: int
) -> None:
    """Hourly; the service is down from 23:00 to 04:30 (five slots, all late)."""
    async with app_with(targets=QUICK, clock=ManualClock(T0)) as qm:
        created = await create(qm, cron="0 * * * *", catch_up=catch_up, concurrency="allow")
    clock = ManualClock(at(5.5 * 3600))
    async with app_with(targets=QUICK, clock=clock) as qm:
        await clock.settled()
        runs = (await schedule_of(qm, created["id"]))["runs"]
        started = sorted(r["slot"] for r in runs if r["outcome"] == "triggered")
        hours = [f"2026-03-29T0{h}:00:00Z" for h in range(5)]
        assert started == (hours if triggered is None else triggered)
        skipped = [r for r in runs if r["outcome"] == "skipped"]
        assert sum(r["missed"] for r in skipped) == missed
        assert all("missed" in r["reason"] for r in skipped)
        assert len(await scheduled_queues(qm)) == len(started)
        metrics = qm.state.metrics
        assert (
            sample(metrics, "schedule_runs_total", schedule="every-10s", outcome="missed") == missed
        )


@pytest.mark.parametrize("queue_made", [False, True])
async def test_a_run_claimed_before_a_crash_is_finished_once(
    app_with: Any, tmp_path: Path, queue_made: bool
) -> None:
    """The store as a crash leaves it mid-slot: the slot claimed (cursor past it), its queue
    not yet made, or made but the run not yet marked. The restarted service finishes it: one
    queue for the slot, never a second, and the slot is not run again."""
    slot = at(10)
    async with app_with(targets=SLOW, clock=ManualClock(T0)) as qm:
        created = await create(qm, cron="0 0 1 1 *")
        queue_id = slot_queue_id(created["id"], slot)
        if queue_made:
            create_body = {**TEMPLATE, "time_range": "2026-03-28:2026-03-28"}
            queue = new_queue(QueueCreate.model_validate(create_body), queue_id)
            queue.schedule = ScheduleRef(id=created["id"], name="every-10s", slot=slot)
            await qm.state.queues.start_queue(QueueCreate.model_validate(create_body), queue)
    store = SqliteScheduleStore(tmp_path / "var" / "queue-manager.db")
    await store.open()

    def claimed_mid_slot(schedule: ScheduleState) -> bool:
        schedule.cursor = slot
        schedule.record(
            ScheduleRun(slot=slot, queue_id=queue_id, outcome=RunOutcome.CLAIMED, decided_at=slot)
        )
        return True

    await store.mutate(created["id"], claimed_mid_slot)
    await store.close()
    clock = ManualClock(at(25))
    async with app_with(targets=SLOW, clock=clock) as qm:
        await clock.settled()
        run = (await schedule_of(qm, created["id"]))["runs"][0]
        assert (run["outcome"], run["queue_id"]) == ("triggered", queue_id)
        queues = await scheduled_queues(qm)
        assert [q["id"] for q in queues] == [queue_id]
        clock.advance(60)
        await clock.settled()
        assert [q["id"] for q in await scheduled_queues(qm)] == [queue_id]


async def test_rest_answers_validate_and_manage_schedules(app_with: Any) -> None:
    clock = ManualClock(T0)
    async with app_with(targets=SLOW, clock=clock) as qm:
        bad = await qm.client.post(
            "/schedules",
            json=body(
                cron="61 * * * *", timezone="Mars/Base", queue={**TEMPLATE, "time_range": "soon"}
            ),
        )
        assert bad.status_code == 422 and bad.json()["status"] == "error"
        assert {p["field"] for p in bad.json()["data"]} == {"cron", "timezone", "queue.time_range"}
        visualizer = {"target": "visualizer", "type": "graph_metrics_stream", "source": "x_y"}
        unrunnable = await qm.client.post(
            "/schedules", json=body(queue={**TEMPLATE, "requests": [visualizer]})
        )
        assert unrunnable.status_code == 422, unrunnable.text
        assert unrunnable.json()["data"][0]["field"] == "queue.requests[0].target"
        created = await create(qm)
        taken = await qm.client.post("/schedules", json=body())
        assert taken.status_code == 409 and "every-10s" in taken.json()["message"]
        missing = await qm.client.get("/schedules/nope")
        assert missing.status_code == 404 and missing.json()["status"] == "error"

        listed = (await qm.client.get("/schedules")).json()["data"]
        assert [s["name"] for s in listed] == ["every-10s"]
        assert listed[0]["cron_text"] == "Every 10th second of every minute"

        off = await qm.client.patch(f"/schedules/{created['id']}", json={"enabled": False})
        assert off.status_code == 200 and off.json()["data"]["next_run_at"] is None
        enabled = await qm.client.get("/schedules", params={"enabled": "true"})
        assert enabled.json()["data"] == []
        disabled = await qm.client.get("/schedules", params={"enabled": "false"})
        assert [s["id"] for s in disabled.json()["data"]] == [created["id"]]
        await clock.settled()
        clock.advance(30)
        await clock.settled()
        assert (await schedule_of(qm, created["id"]))["runs"] == [], "disabled: nothing ran"
        bad_patch = await qm.client.patch(f"/schedules/{created['id']}", json={"cron": None})
        assert bad_patch.status_code == 422 and bad_patch.json()["data"][0]["field"] == "cron"

        now = await qm.client.post(f"/schedules/{created['id']}/run")
        assert now.status_code == 200, now.text
        run = now.json()["data"]
        assert (
            run["manual"]
            and run["outcome"] == "triggered"
            and run["status"] in ("starting", "loading")
        )
        queue = await qm.queue(run["queue_id"])
        assert queue["schedule"] == {
            "id": created["id"],
            "name": "every-10s",
            "slot": run["slot"],
            "manual": True,
        }
        refused = await qm.client.post(f"/schedules/{created['id']}/run")
        assert refused.status_code == 409 and "forbid" in refused.json()["message"]
        assert (await schedule_of(qm, created["id"]))["runs"][0]["outcome"] == "skipped"

        gone = await qm.client.delete(f"/schedules/{created['id']}")
        assert gone.status_code == 200 and gone.json()["data"]["name"] == "every-10s"
        assert (await qm.client.get(f"/schedules/{created['id']}")).status_code == 404
        assert (await qm.queue(run["queue_id"]))["schedule"]["name"] == "every-10s", "queues stay"


async def test_writes_need_the_token_and_readiness_names_the_scheduler(app_with: Any) -> None:
    async with app_with(targets=SLOW, clock=ManualClock(T0), api_tokens="secret") as qm:
        refused = await qm.client.post("/schedules", json=body())
        assert refused.status_code == 401
        ready = await qm.client.get("/health/ready")
        assert ready.json()["data"]["scheduler"] == "ok"
        assert (await qm.client.get("/schedules")).status_code == 200


async def test_schedule_events_reach_websocket_clients(served_with: Any) -> None:
    """Over the real fan-out: clients that follow everything get the run, with its queue."""
    async with served_with(targets=SLOW) as served:
        await served.fanout_ready()
        async with (
            httpx.AsyncClient(base_url=served.url) as client,
            listening(served.ws_url) as everything,
            listening(f"{served.ws_url}?queue_id=other") as chosen,
        ):
            created = await client.post("/schedules", json=body(cron="0 0 1 1 *"))
            schedule_id = created.json()["data"]["id"]
            run = (await client.post(f"/schedules/{schedule_id}/run")).json()["data"]
            await client.post(f"/schedules/{schedule_id}/run")  # forbid: skipped
            got = await everything.wait_for(
                lambda m: bool(everything.events("schedule.skipped")), within=20
            )
            triggered = next(m for m in got if m.get("event") == "schedule.triggered")
            assert (triggered["schedule_id"], triggered["queue_id"]) == (
                schedule_id,
                run["queue_id"],
            )
            assert triggered["run"]["manual"] is True
            assert "forbid" in everything.events("schedule.skipped")[0]["reason"]
            assert not chosen.events("schedule.triggered"), "not asked for by a chosen-queue client"


async def test_slots_of_a_disabled_period_are_not_caught_up(app_with: Any) -> None:
    """Disabled for 100 s with catch_up=all: re-enabled, it counts slots from then on. A
    patch that changes nothing of when it runs leaves its cursor alone."""
    clock = ManualClock(T0)
    async with app_with(targets=QUICK, clock=clock) as qm:
        created = await create(qm, catch_up="all", concurrency="allow")
        path = f"/schedules/{created['id']}"
        await qm.client.patch(path, json={"enabled": False})
        await clock.settled()
        clock.advance(100)
        await clock.settled()
        await qm.client.patch(path, json={"enabled": True})
        await clock.settled()
        assert (await schedule_of(qm, created["id"]))["runs"] == []
        clock.advance(10)
        await clock.settled()
        runs = (await schedule_of(qm, created["id"]))["runs"]
        assert [r["slot"] for r in runs] == ["2026-03-28T23:01:50Z"]
        clock.advance(5)
        same = await qm.client.patch(path, json={"enabled": True, "timezone": "UTC"})
        assert same.json()["data"]["cursor"] == "2026-03-28T23:01:50Z"
