"""GET /queues/{id}/logs of a real job on the real runtime: JSON as written, or text for
people with the routine telemetry left out."""

from __future__ import annotations

import json
from typing import Any

from tests.fixtures.app import BASIC

FAILING_DEMO = {
    "command": ["python", "-m", "app.workers", "demo-job"],
    "env": {"DEMO_JSON": json.dumps({"records": 40, "batch": 2, "interval_ms": 50, "fail": "no"})},
}


async def test_a_job_log_as_json_and_as_text(app_with: Any) -> None:
    targets = {"loader-producer": FAILING_DEMO, "arango-connector": FAILING_DEMO}
    async with app_with(targets=targets, telemetry_interval_seconds=0.1) as qm:
        queue_id = await qm.start(BASIC)
        await qm.wait_for(queue_id, lambda q: q["status"] == "error", within=20)
        params = {"job": "loader-producer", "tail": 500}
        raw = (await qm.client.get(f"/queues/{queue_id}/logs", params=params)).json()["data"]
        text = (
            await qm.client.get(f"/queues/{queue_id}/logs", params={**params, "format": "text"})
        ).json()["data"]
        everything = (
            await qm.client.get(
                f"/queues/{queue_id}/logs", params={**params, "format": "text", "routine": "true"}
            )
        ).json()["data"]

    records = [json.loads(line) for line in raw["lines"]]  # machines: JSON, as written
    routine = sum(1 for r in records if r.get("routine"))
    assert raw["format"] == "json" and routine >= 3
    assert text["format"] == "text" and text["omitted"] == routine
    said = [r["status"] for r in records if r["event"] == "telemetry" and not r.get("routine")]
    assert said == ["starting", "loading", "error"]
    assert [
        line.split("status=")[1].split()[0] for line in text["lines"] if "telemetry" in line
    ] == said
    failed = next(i for i, line in enumerate(text["lines"]) if " ERROR   job failed" in line)
    assert text["lines"][failed + 1] == "    Traceback (most recent call last):"
    assert "    RuntimeError: no" in text["lines"][failed + 2 :]
    assert len(everything["lines"]) == len(text["lines"]) + routine
