"""What the API answers a client that got the form wrong, and what Swagger promises.

Must hold (issue 14, items 5-9; issue 12, item 10): a form or text body is 415 naming
application/json; a wrong method is 405 naming the allowed ones (`GET /queues/start` too);
a trailing slash redirects to a relative URL, never to the client's Host; each route
documents exactly the error codes it can return; Swagger offers seed 002's pipelines
exactly as the seed writes them, and each example starts a queue once its targets are
runnable; GET /queues documents its body.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.fixtures.app import scripted
from tests.seed_examples import BASIC, HISTORICAL, REALTIME

TARGETS = ("loader-producer", "arango-connector", "graph-builder", "gnn-trainer", "visualizer")
HARMLESS = {target: scripted("exit", "0") for target in TARGETS}


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"symbol=BTCUSDT&type=api"),
        ("text/plain", b'{"symbol": "BTCUSDT"}'),
        (None, b'{"symbol": "BTCUSDT"}'),
    ],
)
async def test_a_body_that_is_not_json_is_415_saying_what_is_expected(
    app_with: Any, content_type: str | None, body: bytes
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    async with app_with(targets=HARMLESS) as qm:
        response = await qm.client.post("/queues/start", content=body, headers=headers)
        assert response.status_code == 415, response.text
        answer = response.json()
        assert answer["status"] == "error" and "application/json" in answer["message"], answer
        assert (content_type or "no content type") in answer["message"]
        missing = await qm.client.post("/queues/start")
        assert missing.status_code == 422 and missing.json()["data"][0]["field"] == "body"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/queues/start", "POST"),
        ("GET", "/queues/stop", "POST"),
        ("DELETE", "/queues", "GET"),
        ("PUT", "/queues/b927fa13-3b22-4d44-bc81-1f902a222eee", "GET"),
    ],
)
async def test_a_wrong_method_is_405_naming_the_allowed_ones(
    app_with: Any, method: str, path: str, allowed: str
) -> None:
    async with app_with() as qm:
        response = await qm.client.request(method, path)
        assert response.status_code == 405, response.text
        assert response.headers["allow"] == allowed
        answer = response.json()
        assert answer["status"] == "error", answer
        assert answer["message"] == f"{method} {path} is not allowed; allowed: {allowed}"


async def test_an_unknown_path_is_404_in_the_envelope(app_with: Any) -> None:
    async with app_with() as qm:
        response = await qm.client.get("/nowhere")
        assert response.status_code == 404
        assert response.json() == {
            "status": "error",
            "message": "nothing at GET /nowhere",
            "data": None,
        }


async def test_a_trailing_slash_redirects_relatively_whatever_the_host(app_with: Any) -> None:
    """Starlette built the redirect from the Host header: `Host: evil.example` sent the
    client to http://evil.example/queues. The Location is now a path."""
    async with app_with() as qm:
        evil = {"host": "evil.example"}
        response = await qm.client.get("/queues/?limit=5", headers=evil)
        assert response.status_code == 307
        assert response.headers["location"] == "/queues?limit=5"
        for path in ("//evil.example/", "/nowhere/"):
            refused = await qm.client.get(f"http://qm{path}", headers=evil)
            assert refused.status_code == 404 and "location" not in refused.headers


DOCUMENTED = {
    ("post", "/queues/start"): {"400", "401", "409", "413", "415", "422", "503"},
    ("post", "/queues/stop"): {"401", "404", "409", "422", "503"},
    ("get", "/queues"): {"422", "503"},
    ("get", "/queues/{queue_id}"): {"404", "422", "503"},
    ("get", "/queues/{queue_id}/logs"): {"404", "422", "503"},
    ("get", "/health/live"): {"401"},
    ("get", "/health/startup"): {"401", "503"},
    ("get", "/health/ready"): {"401", "503"},
    ("get", "/metrics"): {"401"},
    ("post", "/schedules"): {"400", "401", "409", "413", "415", "422", "503"},
    ("get", "/schedules"): {"422", "503"},
    ("get", "/schedules/{schedule_id}"): {"404", "422", "503"},
    ("patch", "/schedules/{schedule_id}"): {"400", "401", "404", "409", "413", "415", "422", "503"},
    ("delete", "/schedules/{schedule_id}"): {"401", "404", "422", "503"},
    ("post", "/schedules/{schedule_id}/run"): {"401", "404", "409", "422", "503"},
    ("get", "/coverage"): {"422", "503"},
    ("post", "/coverage/fill"): {"401", "422", "503"},
}


async def test_each_route_documents_the_error_codes_it_can_return(app_with: Any) -> None:
    async with app_with() as qm:
        schema = (await qm.client.get("/openapi.json")).json()
    documented = {
        (method, path): {code for code in operation["responses"] if code >= "400"}
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    }
    assert documented == DOCUMENTED


async def test_swagger_offers_seed_002_exactly_and_each_example_starts(app_with: Any) -> None:
    """The examples are seed 002's as written (tests/seed_examples.py is the seed's copy);
    the ML targets' need of TARGETS_FILE is said; with every target runnable (harmless
    commands here) each example starts a queue as it is."""
    async with app_with(targets=HARMLESS) as qm:
        schema = (await qm.client.get("/openapi.json")).json()
        content = schema["paths"]["/queues/start"]["post"]["requestBody"]["content"]
        examples = content["application/json"]["examples"]
        assert examples["short"]["value"] == BASIC
        assert examples["historical"]["value"] == HISTORICAL
        assert examples["realtime"]["value"] == REALTIME
        assert "TARGETS_FILE" in examples["historical"]["description"]
        assert "visualizer" in examples["realtime"]["description"]
        for name, example in examples.items():
            response = await qm.client.post("/queues/start", json=example["value"])
            assert response.status_code == 200, (name, response.text)


async def test_the_queue_list_documents_its_body(app_with: Any) -> None:
    async with app_with() as qm:
        schema = (await qm.client.get("/openapi.json")).json()
    ok = schema["paths"]["/queues"]["get"]["responses"]["200"]
    body = ok["content"]["application/json"]["schema"]
    assert body != {} and body["$ref"].endswith("Envelope_list_QueueState__")
    assert "X-Total-Count" in ok["headers"]


async def test_a_websocket_query_that_does_not_validate_is_422_at_the_handshake(
    served_with: Any,
) -> None:
    """`?format=xml` used to be a bare 403 (FastAPI closes with 1008 before accepting)."""
    async with served_with() as served:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"{served.ws_url}?format=xml"):
                pass
        assert refused.value.response.status_code == 422
        body = json.loads(refused.value.response.body or b"{}")
        assert body["status"] == "error" and body["data"][0]["field"] == "format", body
