"""Jobs that misbehave: one deaf to SIGTERM, ones that flood telemetry.

Must hold: stopping a queue whose job ignores SIGTERM ends that job with SIGKILL once
JOB_STOP_GRACE_SECONDS have passed (not before, not much later), its process is gone, and
the queue ends `stopped`; while jobs report telemetry as fast as the broker acknowledges
(thousands of one-record batches), GET /queues/{id} keeps a p99 latency under a bound and
the final state is exact (finished, every record counted once).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.fixtures.app import scripted
from tests.fixtures.eventually import eventually
from tests.jobs.scripted import IGNORING_SIGTERM
from tests.seed_examples import BASIC

GRACE = 1.0
FLOOD_RECORDS = 1000
P99_BOUND_SECONDS = 0.25


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def test_a_job_deaf_to_sigterm_is_killed_after_the_grace_and_the_queue_stops(
    app_with: Any,
) -> None:
    targets = {
        "loader-producer": scripted("stubborn", "60"),
        "arango-connector": scripted("sleep", "60"),
    }
    async with app_with(targets=targets, job_stop_grace_seconds=GRACE) as qm:
        queue_id = await qm.start(BASIC)
        queue = await qm.wait_for(queue_id, lambda q: all(j["launcher_ref"] for j in q["jobs"]))
        stubborn, polite = (int(job["launcher_ref"]) for job in queue["jobs"])
        log = qm.state.queues.launcher.log_path(queue_id, queue["jobs"][0]["name"])
        await eventually(  # SIGTERM is ignored only once the job said so
            lambda: IGNORING_SIGTERM in log.read_text(), every=0.02, what="stubborn set"
        )
        started = time.monotonic()
        response = await qm.client.post("/queues/stop", params={"queue_id": queue_id})
        assert response.status_code == 200, response.text
        await eventually(lambda: not alive(polite), every=0.02, what="the polite job gone")
        assert alive(stubborn), "the stubborn job outlived SIGTERM, as it should"
        final = await qm.wait_for(queue_id, lambda q: q["status"] == "stopped", within=GRACE + 5)
        elapsed = time.monotonic() - started
        assert GRACE <= elapsed < GRACE + 5, elapsed
        assert not alive(stubborn)
        assert [job["status"] for job in final["jobs"]] == ["stopped", "stopped"]


def _complete(queue: dict[str, Any]) -> bool:
    """Finished with every job's final counters in (the last report may land just after
    the launcher saw the exit: it still counts)."""
    return queue["status"] == "finished" and all(
        job["records_written"] == FLOOD_RECORDS for job in queue["jobs"]
    )


def demo(**request: Any) -> dict[str, Any]:
    return {
        "command": ["python", "-m", "app.workers", "demo-job"],
        "env": {"DEMO_JSON": orjson.dumps(request).decode()},
    }


async def test_a_telemetry_flood_keeps_reads_fast_and_the_final_state_exact(
    served_with: Any,
) -> None:
    flood = demo(records=FLOOD_RECORDS, batch=1, interval_ms=0)
    targets = {"loader-producer": flood, "arango-connector": flood}
    async with served_with(targets=targets, telemetry_interval_seconds=0.001) as served:
        await served.dispatcher_ready()
        async with httpx.AsyncClient(base_url=served.url, timeout=10) as http:
            queue_id = (await http.post("/queues/start", json=BASIC)).json()["data"]["queue_id"]
            latencies: list[float] = []

            async def timed_read() -> dict[str, Any]:
                started = time.perf_counter()
                response = await http.get(f"/queues/{queue_id}")
                latencies.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
                return dict(response.json()["data"])

            queue = await eventually(
                timed_read,
                lambda q: q["status"] in ("error", "stopped") or _complete(q),
                within=90,
                every=0.005,
                what="the flood loaded",
            )
    assert queue["status"] == "finished", queue
    assert [job["records_written"] for job in queue["jobs"]] == [FLOOD_RECORDS] * 2
    assert queue["records_written"] == FLOOD_RECORDS
    seqs = [job["seq"] for job in queue["jobs"]]
    assert min(seqs) > 100, f"the jobs did flood: {seqs} reports"
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    assert len(latencies) > 100 and p99 < P99_BOUND_SECONDS, (len(latencies), p99)
