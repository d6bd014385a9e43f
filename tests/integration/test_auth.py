"""Bearer tokens: mutating routes and /ws/topic need one when API_TOKENS is set."""

from __future__ import annotations

from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from app.api.auth import token_matches
from tests.fixtures.app import scripted
from tests.seed_examples import BASIC

QUICK = {"loader-producer": scripted("exit", "0"), "arango-connector": scripted("exit", "0")}
TOKENS = "first-token-123,second-token-456"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_mutating_routes_need_a_valid_token(app_with: Any) -> None:
    async with app_with(targets=QUICK, api_tokens=TOKENS) as qm:
        missing = await qm.client.post("/queues/start", json=BASIC)
        assert missing.status_code == 401 and missing.json()["status"] == "error"
        wrong = await qm.client.post("/queues/start", json=BASIC, headers=bearer("nope"))
        assert wrong.status_code == 401
        ok = await qm.client.post("/queues/start", json=BASIC, headers=bearer("second-token-456"))
        assert ok.status_code == 200
        queue_id = ok.json()["data"]["queue_id"]
        stop = await qm.client.post("/queues/stop", params={"queue_id": queue_id})
        assert stop.status_code == 401
        assert (await qm.client.get(f"/queues/{queue_id}")).status_code == 200
        metrics = (await qm.client.get("/metrics")).text
        assert 'auth_failures_total{route="/queues/start"} 2.0' in metrics
        assert 'auth_failures_total{route="/queues/stop"} 1.0' in metrics


async def test_probes_and_metrics_are_open_unless_configured_closed(app_with: Any) -> None:
    async with app_with(api_tokens=TOKENS) as qm:
        assert (await qm.client.get("/health/ready")).status_code == 200
    async with app_with(api_tokens=TOKENS, open_metrics_and_health=False) as qm:
        assert (await qm.client.get("/metrics")).status_code == 401
        assert (
            await qm.client.get("/metrics", headers=bearer("first-token-123"))
        ).status_code == 200


async def test_swagger_offers_the_bearer_scheme(app_with: Any) -> None:
    async with app_with(api_tokens=TOKENS) as qm:
        schema = (await qm.client.get("/openapi.json")).json()
        assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
        assert schema["paths"]["/queues/start"]["post"]["security"] == [{"HTTPBearer": []}]


async def test_websocket_needs_the_token_when_configured(served_with: Any) -> None:
    async with served_with(api_tokens=TOKENS) as served:
        with pytest.raises(InvalidStatus):
            async with connect(served.ws_url):
                pass
        async with connect(f"{served.ws_url}?token=first-token-123") as ws:
            assert '"hello"' in str(await ws.recv())
        async with connect(served.ws_url, additional_headers=bearer("second-token-456")) as ws:
            assert '"hello"' in str(await ws.recv())


def test_token_comparison() -> None:
    assert token_matches("b", ["a", "b"]) and not token_matches("c", ["a", "b"])
    assert not token_matches("", ["a"])
