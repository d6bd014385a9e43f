"""Bearer tokens: mutating routes and /ws/topic need one when API_TOKENS is set."""

from __future__ import annotations

import json
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
    """A missing or wrong token is refused at the handshake with 401 and the envelope (as
    the README says), counted; the header or `?token=` gets in."""
    async with served_with(api_tokens=TOKENS) as served:
        for url in (served.ws_url, f"{served.ws_url}?token=wrong"):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(url):
                    pass
            assert refused.value.response.status_code == 401
            body = json.loads(refused.value.response.body or b"{}")
            assert body["status"] == "error" and "?token=" in body["message"], body
        failures = served.state.metrics.registry.get_sample_value(
            "auth_failures_total", {"route": "/ws/topic"}
        )
        assert failures == 2
        async with connect(f"{served.ws_url}?token=first-token-123") as ws:
            assert '"hello"' in str(await ws.recv())
        async with connect(served.ws_url, additional_headers=bearer("second-token-456")) as ws:
            assert '"hello"' in str(await ws.recv())


async def test_the_bearer_scheme_is_case_insensitive_on_rest_and_websocket(
    app_with: Any, served_with: Any
) -> None:
    lowercase = {"Authorization": "bearer second-token-456"}
    async with app_with(targets=QUICK, api_tokens=TOKENS) as qm:
        response = await qm.client.post("/queues/start", json=BASIC, headers=lowercase)
        assert response.status_code == 200, response.text
    async with (
        served_with(api_tokens=TOKENS) as served,
        connect(served.ws_url, additional_headers=lowercase) as ws,
    ):
        assert '"hello"' in str(await ws.recv())


async def test_another_authorization_scheme_does_not_hide_the_query_token(
    served_with: Any,
) -> None:
    """A proxy's Basic credentials (or any non-Bearer header) leave `?token=` in charge."""
    basic = {"Authorization": "Basic dXNlcjpwYXNz"}
    async with (
        served_with(api_tokens=TOKENS) as served,
        connect(f"{served.ws_url}?token=first-token-123", additional_headers=basic) as ws,
    ):
        assert '"hello"' in str(await ws.recv())


async def test_the_query_token_counts_only_under_its_real_name(served_with: Any) -> None:
    """`?tok%65n=` decodes to `token` but is not it: refused, like any unknown parameter."""
    async with served_with(api_tokens=TOKENS) as served:
        for disguised in ("tok%65n", "%74oken", "TOKEN", "token%20"):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(f"{served.ws_url}?{disguised}=first-token-123"):
                    pass
            assert refused.value.response.status_code == 401, disguised


def test_token_comparison() -> None:
    assert token_matches("b", ["a", "b"]) and not token_matches("c", ["a", "b"])
    assert not token_matches("", ["a"])
