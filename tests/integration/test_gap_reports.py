"""A stream job's gaps as the service shows them: stored with the job, summed per queue, on
the WebSocket and queue-events, and counted in /metrics."""

from __future__ import annotations

from typing import Any

import httpx

from app.services.stalls import StallWatch
from tests.fixtures.app import Served
from tests.fixtures.kafka_reader import read_topic
from tests.fixtures.metrics import sample
from tests.fixtures.wsclient import listening
from tests.integration.test_control_plane import SLOW, send, start_queue, telemetry, until_stored


def gap(first: int, last: int, state: str = "open", backfilled: int = 0) -> dict[str, Any]:
    return {
        "symbol": "BTCUSDT",
        "stream": "btcusdt@trade",
        "key": "trade_id",
        "first": first,
        "last": last,
        "from_ms": 1_717_200_000_000,
        "to_ms": 1_717_200_004_000,
        "state": state,
        "backfilled": backfilled,
        "detected_ms": 1_717_200_005_000,
        "reason": None,
    }


def with_gaps(report: dict[str, Any], found: int, backfilled: int, *gaps: dict[str, Any]) -> Any:
    still_open = sum(1 for g in gaps if g["state"] != "filled")
    return {
        **report,
        "gaps_detected": found,
        "gaps_open": still_open,
        "records_backfilled": backfilled,
        "gaps": list(gaps),
    }


async def test_gaps_reach_the_store_the_websocket_events_and_metrics(served_with: Any) -> None:
    async with served_with(targets=SLOW) as served:
        await served.fanout_ready()
        queue = await start_queue(served)
        async with listening(served.ws_url) as ws:
            await send(served, with_gaps(telemetry(queue, 1), 1, 0, gap(101, 150)))
            stored = await until_stored(served, queue.id, lambda q: q.gaps_open == 1)
            assert stored.jobs[0].gaps == [gap(101, 150)]
            filled = gap(101, 150, "filled", 50)
            await send(served, with_gaps(telemetry(queue, 2), 2, 53, filled, gap(7, 9)))
            stored = await until_stored(served, queue.id, lambda q: q.records_backfilled == 53)
            await ws.wait_for(lambda m: len(ws.events("job.telemetry", queue.id)) >= 2)
        assert (stored.gaps_detected, stored.gaps_open) == (2, 1)
        assert [g["state"] for g in stored.jobs[0].gaps] == ["filled", "open"]
        latest = ws.events("job.telemetry", queue.id)[-1]
        assert (latest["gaps_detected"], latest["gaps_open"], latest["records_backfilled"]) == (
            2,
            1,
            53,
        )
        assert latest["gaps"][0]["first"] == 101
        await expect_in_events(served, queue.id)
        await expect_in_metrics(served)


async def expect_in_events(served: Served, queue_id: str) -> None:
    settings = served.state.settings
    events = await read_topic(
        settings.kafka_bootstrap_servers or "",
        settings.queue_events_topic,
        until=lambda m: any(x.value["data"].get("records_backfilled") == 53 for x in m),
    )
    last = events[-1].value["data"]
    assert last["id"] == queue_id and last["gaps_open"] == 1
    assert last["jobs"][0]["gaps"][1]["first"] == 7


async def expect_in_metrics(served: Served) -> None:
    metrics = served.state.metrics
    await StallWatch(served.state.queues, metrics).check()
    assert sample(metrics, "stream_gaps_detected_total", exchange="binance") == 2
    assert sample(metrics, "records_backfilled_total", exchange="binance") == 53
    assert sample(metrics, "stream_gaps_open", exchange="binance") == 1
    async with httpx.AsyncClient(base_url=served.url) as client:
        text = (await client.get("/metrics")).text
    assert 'stream_gaps_open{exchange="binance"} 1.0' in text
