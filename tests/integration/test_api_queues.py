"""Every REST route's success and error paths, on the real app with SQLite and local jobs."""

from __future__ import annotations

from typing import Any

from tests.fixtures.app import scripted
from tests.seed_examples import BASIC, HISTORICAL

QUICK = {"loader-producer": scripted("exit", "0"), "arango-connector": scripted("exit", "0")}
SLOW = {"loader-producer": scripted("sleep", "30"), "arango-connector": scripted("sleep", "30")}


def ended(queue: dict[str, Any]) -> bool:
    return queue["status"] in ("finished", "stopped", "error")


async def test_start_returns_queue_id_and_jobs_run_to_finished(app_with: Any) -> None:
    async with app_with(targets=QUICK) as qm:
        response = await qm.client.post("/queues/start", json=BASIC)
        body = response.json()
        assert (response.status_code, body["status"], body["message"]) == (
            200,
            "success",
            "Queue started",
        )
        queue = await qm.wait_for(body["data"]["queue_id"], ended)
        assert queue["status"] == "finished"
        assert [job["status"] for job in queue["jobs"]] == ["finished", "finished"]
        assert queue["started_at"] and queue["finished_at"]


async def test_seed_history_example_runs_once_its_ml_targets_have_commands(app_with: Any) -> None:
    ml = {"graph-builder": scripted("exit", "0"), "gnn-trainer": scripted("exit", "0")}
    async with app_with(targets={**QUICK, **ml}) as qm:
        queue = await qm.wait_for(await qm.start(HISTORICAL), ended)
        assert queue["status"] == "finished"
        assert {job["target"] for job in queue["jobs"]} == {
            "loader-producer",
            "arango-connector",
            "graph-builder",
            "gnn-trainer",
        }


async def test_get_unknown_queue_is_404_in_the_envelope(app_with: Any) -> None:
    async with app_with() as qm:
        response = await qm.client.get("/queues/nope")
        assert response.status_code == 404
        assert response.json() == {
            "status": "error",
            "message": "no queue with id nope",
            "data": None,
        }


async def test_invalid_body_is_422_naming_field_and_reason(app_with: Any) -> None:
    async with app_with() as qm:
        response = await qm.client.post(
            "/queues/start", json={**BASIC, "time_range": "2024-13-01:2024-12-01"}
        )
        body = response.json()
        assert response.status_code == 422 and body["status"] == "error"
        assert body["data"][0]["field"] == "time_range"
        assert "time_range" in body["message"] and "not a real date" in body["message"]


async def test_malformed_json_is_400_naming_where_it_breaks(app_with: Any) -> None:
    async with app_with() as qm:
        response = await qm.client.post(
            "/queues/start",
            content=b'{"symbol": "BTCUSDT",\n "type": "api" "time_range": "x"}',
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["status"] == "error" and "line 2, column 16" in body["message"], body
        assert body["data"] == [{"field": "body", "reason": body["message"].split(": ", 1)[1]}]


async def test_stop_is_idempotent_and_409_for_finished_queue(app_with: Any) -> None:
    async with app_with(targets=SLOW) as qm:
        queue_id = await qm.start(BASIC)
        first = await qm.client.post("/queues/stop", params={"queue_id": queue_id})
        assert first.status_code == 200 and first.json()["data"]["status"] == "stopping"
        stopped = await qm.wait_for(queue_id, ended)
        assert stopped["status"] == "stopped"
        again = await qm.client.post("/queues/stop", params={"queue_id": queue_id})
        assert (again.status_code, again.json()["message"]) == (200, "Queue stopped")
    async with app_with(targets=QUICK) as qm:
        done = await qm.start(BASIC)
        await qm.wait_for(done, lambda q: q["status"] == "finished")
        refused = await qm.client.post("/queues/stop", params={"queue_id": done})
        assert refused.status_code == 409 and "finished" in refused.json()["message"]


async def test_stop_unknown_queue_is_404_and_missing_id_is_422(app_with: Any) -> None:
    async with app_with() as qm:
        assert (await qm.client.post("/queues/stop", params={"queue_id": "x"})).status_code == 404
        missing = await qm.client.post("/queues/stop")
        assert missing.status_code == 422 and missing.json()["data"][0]["field"] == "queue_id"


async def test_list_filters_paginates_newest_first(app_with: Any) -> None:
    async with app_with(targets=QUICK) as qm:
        ids = [await qm.start({**BASIC, "symbol": s}) for s in ("BTCUSDT", "ETHUSDT", "BTCUSDT")]
        for queue_id in ids:
            await qm.wait_for(queue_id, ended)
        page = await qm.client.get("/queues", params={"symbol": "BTCUSDT", "limit": 1})
        assert page.headers["X-Total-Count"] == "2"
        assert [q["id"] for q in page.json()["data"]] == [ids[2]]
        finished = await qm.client.get("/queues", params={"status": "finished"})
        assert {q["id"] for q in finished.json()["data"]} == set(ids)
        bad = await qm.client.get("/queues", params={"status": "sleeping", "limit": 0})
        assert bad.status_code == 422
        assert {p["field"] for p in bad.json()["data"]} == {"status", "limit"}


async def test_logs_return_the_tail_of_the_failed_job(app_with: Any) -> None:
    failing = {"loader-producer": scripted("exit", "3"), "arango-connector": scripted("exit", "0")}
    async with app_with(targets=failing) as qm:
        queue_id = await qm.start(BASIC)
        queue = await qm.wait_for(queue_id, ended)
        loader = queue["jobs"][0]
        assert loader["status"] == "error" and "exit code 3" in loader["error_message"]
        assert "failing on purpose with code 3" in loader["error_message"]
        response = await qm.client.get(f"/queues/{queue_id}/logs", params={"tail": 1})
        data = response.json()["data"]
        assert (data["target"], data["lines"]) == (
            "loader-producer",
            ["failing on purpose with code 3"],
        )
        other = await qm.client.get(f"/queues/{queue_id}/logs", params={"job": "arango-connector"})
        assert other.json()["data"]["lines"][0].startswith("scripted job exit 0")
        unknown = await qm.client.get(f"/queues/{queue_id}/logs", params={"job": "visualizer"})
        assert unknown.status_code == 404 and "matches no job" in unknown.json()["message"]


async def test_unknown_route_and_method_answer_in_the_envelope(app_with: Any) -> None:
    async with app_with() as qm:
        missing = await qm.client.get("/nowhere")
        assert missing.status_code == 404 and missing.json()["status"] == "error"
        wrong = await qm.client.delete("/queues")
        assert wrong.status_code == 405 and wrong.json()["status"] == "error"


async def test_oversized_body_is_413(app_with: Any) -> None:
    async with app_with(max_body_bytes=2048) as qm:
        body = {**BASIC, "symbols": ["BTCUSDT"] * 500}
        response = await qm.client.post("/queues/start", json=body)
        assert response.status_code == 413 and response.json()["status"] == "error"


async def test_openapi_has_an_example_for_every_route(app_with: Any) -> None:
    async with app_with() as qm:
        schema = (await qm.client.get("/openapi.json")).json()
        start = schema["paths"]["/queues/start"]["post"]["requestBody"]["content"]
        assert {"short", "historical", "realtime"} <= set(start["application/json"]["examples"])
        docs = await qm.client.get("/docs")
        assert docs.status_code == 200 and "//cdn" not in docs.text, "Swagger UI works offline"
        bundle = await qm.client.get("/static-offline-docs/swagger-ui-bundle.js")
        assert bundle.status_code == 200 and len(bundle.content) > 100_000
