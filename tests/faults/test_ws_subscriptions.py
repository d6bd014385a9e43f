"""WebSocket subscriptions are bounded per client and cheap to change (issue 12, item 2).

Must hold: one client follows at most MAX_FOLLOWED queues in all, however many messages
it takes; a subscription change is answered with what changed, not the whole set; three
clients subscribing at the documented rate (19 messages a second each, 1000 new ids per
message) neither grow the hub nor make /health/live slow.
"""

from __future__ import annotations

import asyncio
import json
import statistics
from collections.abc import Callable
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from app.api.ws import MAX_FOLLOWED


def subscribe(ids: list[str], action: str = "subscribe") -> str:
    return json.dumps({"action": action, "queue_ids": ids})


async def answer(ws: ClientConnection) -> dict[str, Any]:
    """The next answer to a subscription message (heartbeats and events skipped)."""
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if message["event"] in ("subscribed", "unsubscribed", "error"):
            return dict(message)


async def test_one_client_follows_at_most_the_limit_in_all(served_with: Any) -> None:
    async with served_with() as served, connect(served.ws_url, max_size=None) as ws:
        await ws.recv()
        first = [f"q-{i}" for i in range(MAX_FOLLOWED)]
        await ws.send(subscribe(first))
        added = await answer(ws)
        assert added["event"] == "subscribed" and added["following"] == MAX_FOLLOWED
        assert added["added"] == first
        await ws.send(subscribe(["q-0", "one-too-many"]))
        refused = await answer(ws)
        assert refused["event"] == "error" and f"at most {MAX_FOLLOWED}" in refused["message"]
        await ws.send(subscribe(["q-0", "q-1", "not-followed"], "unsubscribe"))
        removed = await answer(ws)
        assert removed == {"event": "unsubscribed", "removed": ["q-0", "q-1"], "following": 998}
        await ws.send(subscribe(["q-1", "q-5"]))
        again = await answer(ws)
        assert again == {"event": "subscribed", "added": ["q-1"], "following": 999}
        assert served.state.plane.hub.followed == 999


async def test_subscribing_at_the_documented_rate_keeps_the_service_responsive(
    served_with: Any,
) -> None:
    """The attack of the issue, for three seconds: 3 clients x 19 messages a second, each
    message 1000 ids the client does not follow yet. The hub holds at most 3 x 1000
    followed ids, every answer is small, and /health/live answers promptly throughout."""
    async with served_with() as served:
        hub = served.state.plane.hub
        followed: list[int] = []
        probe = asyncio.create_task(_probe_live(served.url, lambda: followed.append(hub.followed)))
        sizes = await asyncio.gather(*(_subscribe_flood(served.ws_url, c) for c in range(3)))
        latencies = await _stop(probe)
        assert len(latencies) > 10 and statistics.median(latencies) < 0.1, latencies
        assert 0 < max(followed) <= 3 * MAX_FOLLOWED, followed
        assert max(max(s) for s in sizes) < 20_000, "answers carry the change, not the set"


async def _subscribe_flood(url: str, client: int, seconds: int = 3) -> list[int]:
    """19 subscribe messages a second; returns the size of each answer."""
    sizes = []
    async with connect(url, max_size=None) as ws:
        await ws.recv()
        for second in range(seconds):
            for message in range(19):
                base = (second * 19 + message) * 1000
                await ws.send(subscribe([f"c{client}-{base + i}" for i in range(1000)]))
            for _ in range(19):
                sizes.append(len(json.dumps(await answer(ws))))
            await asyncio.sleep(1)
    return sizes


async def _probe_live(url: str, sample: Callable[[], None]) -> list[float]:
    """/health/live's latency every 50 ms, sampling the hub's size alongside."""
    latencies: list[float] = []
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        try:
            while True:
                started = loop.time()
                assert (await http.get("/health/live")).status_code == 200
                latencies.append(loop.time() - started)
                sample()
                await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            return latencies


async def _stop(probe: asyncio.Task[list[float]]) -> list[float]:
    probe.cancel()
    return await probe
