"""Load that could stall the service: a WebSocket client that never reads, 200 starts at once.

Must hold: with a client that stops reading while a telemetry flood fans out, REST reads keep
a p99 latency under a bound, another client still receives the newest update, and the
stalled client is conflated or dropped (bounded memory) rather than slowing anyone; with
200 queues started concurrently, every start answers 200 (no 5xx), every queue is recorded,
each job is launched exactly once, and every queue reaches a terminal status.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from websockets.asyncio.client import connect

from tests.fixtures.app import scripted
from tests.fixtures.eventually import eventually
from tests.fixtures.metrics import sample
from tests.fixtures.wsclient import listening
from tests.integration.test_ws_fanout import flood, report, tiny_socket
from tests.seed_examples import BASIC

SLOW = {"loader-producer": scripted("sleep", "60"), "arango-connector": scripted("sleep", "60")}
INSTANT = {"loader-producer": {"command": ["true"]}, "arango-connector": {"command": ["true"]}}
P99_BOUND_SECONDS = 0.25
CONCURRENT = 200


def p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[max(0, int(len(ordered) * 0.99) - 1)]


async def test_a_client_that_never_reads_stalls_nobody(served_with: Any) -> None:
    async with served_with(targets=SLOW, ws_client_queue_size=200) as served:
        await served.fanout_ready()
        async with (
            httpx.AsyncClient(base_url=served.url, timeout=10) as http,
            # uncompressed frames: 12 MB fill every buffer on the stalled client's way (the
            # pad compresses to nothing, and the server keeps up with a reading client)
            connect(
                served.ws_url, max_queue=1, sock=tiny_socket(served.url), compression=None
            ) as stalled,
            listening(served.ws_url) as reader,
        ):
            assert stalled is not None
            queue_id = (await http.post("/queues/start", json=BASIC)).json()["data"]["queue_id"]
            count = 3000
            sending = asyncio.create_task(
                flood(
                    served.state.settings,
                    [report("q-flood", s, stats_bytes=4000) for s in range(1, count + 1)],
                    "q",
                )
            )
            latencies: list[float] = []

            async def timed_read() -> list[dict[str, Any]]:
                started = time.perf_counter()
                response = await http.get(f"/queues/{queue_id}")
                latencies.append(time.perf_counter() - started)
                assert response.status_code == 200
                return reader.messages

            await eventually(
                timed_read,
                lambda seen: any(m.get("seq") == count for m in seen),
                within=30,
                every=0.005,
                what=f"seq {count} at the reader",
            )
            await sending
    left_behind = sum(
        sample(served.state.metrics, "websocket_events_dropped_total", reason=reason)
        for reason in ("conflated", "closed_slow_client")
    )
    assert left_behind > 0, "the stalled client was conflated or dropped, not buffered"
    assert len(latencies) > 10 and p99(latencies) < P99_BOUND_SECONDS, p99(latencies)


async def test_200_concurrent_starts_are_each_recorded_and_launched_once(
    served_with: Any,
) -> None:
    async with (
        served_with(targets=INSTANT) as served,
        httpx.AsyncClient(
            base_url=served.url, timeout=60, limits=httpx.Limits(max_connections=CONCURRENT)
        ) as http,
    ):
        answers = await asyncio.gather(
            *(http.post("/queues/start", json=BASIC) for _ in range(CONCURRENT))
        )
        assert [a.status_code for a in answers] == [200] * CONCURRENT
        ids = {a.json()["data"]["queue_id"] for a in answers}
        assert len(ids) == CONCURRENT
        listed = await eventually(
            lambda: http.get("/queues", params={"limit": 500}),
            lambda page: all(
                q["status"] in ("finished", "error", "stopped") for q in page.json()["data"]
            ),
            within=60,
            every=0.1,
            what="every queue ended",
        )
        queues = listed.json()["data"]
        total_launched = sum(
            sample(served.state.metrics, "jobs_launched_total", target=t) for t in INSTANT
        )
    assert {q["id"] for q in queues} == ids and listed.headers["x-total-count"] == "200"
    assert all(q["status"] == "finished" for q in queues), {q["status"] for q in queues}
    pids = [job["launcher_ref"] for q in queues for job in q["jobs"]]
    assert len(pids) == 2 * CONCURRENT and None not in pids
    assert total_launched == 2 * CONCURRENT, "each job launched exactly once"
