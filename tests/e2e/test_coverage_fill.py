"""A history load whose loader is SIGKILLed mid-way shows `partial` coverage, and fill
missing completes it without a duplicate. Real parts: the embedded broker, SQLite, local
jobs (`python -m app.workers`), the local Binance REST server of tests/fakes."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.bus.embedded import free_port
from tests.fakes.binance_rest import FakeBinanceRest, TradeTape
from tests.fixtures.binance import serving_binance
from tests.fixtures.documents import DAY0, table_rows
from tests.fixtures.eventually import eventually

pytestmark = pytest.mark.timeout(90)
MINUTE = 60_000
DAY = 86_400_000
RANGE = {"from": "2024-06-01", "to": "2024-06-02"}


def pipeline(job_type: str) -> dict[str, Any]:
    """A load whose loader is not retried: a killed or failed attempt ends the load, and
    what it left is what the coverage map shows (a retry would resume and complete it)."""
    return {
        "symbol": "BTCUSDT",
        "time_range": "2024-06-01:2024-06-02",
        "requests": [
            {"target": "loader-producer", "type": job_type, "retry": {"limit": 0}},
            {"target": "arango-connector", "type": job_type},
        ],
    }


@pytest.fixture
async def binance() -> AsyncIterator[FakeBinanceRest]:
    tape = TradeTape(origin_ms=DAY0 - DAY, per_ms=1, gap_ms=MINUTE)
    async with serving_binance(tape=tape) as server:
        yield server
        server.release.set()


async def merged(client: httpx.AsyncClient, data_type: str) -> dict[str, Any]:
    """The map once the fill's last report is merged: a queue ends when its jobs exit,
    which can be up to one dispatcher poll (200 ms) before the connector's last report,
    already on the broker, is read (docs/architecture.md, coverage map)."""
    result: dict[str, Any] = await eventually(
        lambda: coverage(client, data_type),
        lambda series: all(state == "complete" for state, _ in states(series)),
        within=5,
        what=f"the fill's last {data_type} report in the coverage map",
    )
    return result


async def coverage(client: httpx.AsyncClient, data_type: str) -> dict[str, Any]:
    query = {"exchange": "binance", "symbol": "BTCUSDT", "type": data_type, **RANGE}
    answer = await client.get("/coverage", params=query)
    assert answer.status_code == 200, answer.text
    [series] = answer.json()["data"]["series"]
    return dict(series)


def states(series: dict[str, Any]) -> list[tuple[str, int]]:
    return [(day["state"], day["count"]) for day in series["days"]]


async def kill_loader(qm: Any, queue_id: str) -> None:
    queue = await qm.queue(queue_id)
    loader = next(job for job in queue["jobs"] if job["target"] == "loader-producer")
    os.killpg(int(loader["launcher_ref"]), signal.SIGKILL)
    await qm.wait_for(queue_id, lambda q: q["jobs"][0]["status"] == "error", within=15)


async def fill(client: httpx.AsyncClient, data_type: str, **flags: str) -> dict[str, Any]:
    query = {"exchange": "binance", "symbol": "BTCUSDT", "type": data_type, **RANGE, **flags}
    answer = await client.post("/coverage/fill", params=query)
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["data"])


async def test_a_killed_candle_load_is_partial_and_fill_missing_completes_it_once(
    app_with: Any, binance: FakeBinanceRest
) -> None:
    binance.hold_after = 1  # the first page of 1000 candles, then the loader waits
    async with app_with(
        kafka_bootstrap_servers=None,
        binance_rest_url=binance.url,
        telemetry_interval_seconds=0.2,
    ) as qm:
        await qm.state.plane.dispatcher.assigned.wait()
        first = await qm.start(pipeline("api_candles_1m"))
        await eventually(
            lambda: coverage(qm.client, "candles_1m"),
            lambda series: states(series)[0] == ("partial", 1000),
            within=30,
            what="the first page in the coverage map",
        )
        await kill_loader(qm, first)
        binance.release.set()
        series = await coverage(qm.client, "candles_1m")
        assert states(series) == [("partial", 1000), ("missing", 0)]
        [hole] = series["days"][0]["missing"]
        assert (hole["start"], hole["first"]) == ("2024-06-01T16:40:00.000Z", DAY0 + 1000 * MINUTE)
        collection = series["days"][0]["collections"][0]

        planned = await fill(qm.client, "candles_1m", dry_run="true")
        [would] = planned["queues"]
        assert (would["start"], would["end"], would["status"]) == (
            "2024-06-01",
            "2024-06-02",
            "would_start",
        )
        assert would["collection"] == collection
        started = await fill(qm.client, "candles_1m")
        [queue] = started["queues"]
        assert (queue["queue_id"], queue["status"]) == (would["queue_id"], "started")
        again = await fill(qm.client, "candles_1m")
        assert [(q["queue_id"], q["status"]) for q in again["queues"]] == [
            (queue["queue_id"], "running")
        ]
        filled = await qm.wait_for(
            queue["queue_id"], lambda q: q["status"] in ("finished", "error"), within=40
        )
        assert filled["status"] == "finished", filled
        series = await merged(qm.client, "candles_1m")
        assert states(series) == [("complete", 1440), ("complete", 1440)]
        assert (await fill(qm.client, "candles_1m"))["queues"] == []
        listed = await qm.client.get("/queues")
        assert listed.headers["x-total-count"] == "2", "the repeated fill started nothing"
        await qm.client.post("/queues/stop", params={"queue_id": first})
        database = qm.state.settings.database_path
    rows = table_rows(database, collection)
    expected = {f"binance:BTCUSDT:candle:1m:{DAY0 + n * MINUTE}" for n in range(2 * 1440)}
    assert set(rows) == expected, "every candle of both days once, in the first collection"


async def test_a_killed_trade_load_is_partial_and_fill_missing_completes_it_once(
    app_with: Any, binance: FakeBinanceRest
) -> None:
    """Trades (one a minute on the fake's tape, id 1440 the first of June 1st): the day
    edges are proven by the loader's bounds, midnight by id continuity."""
    binance.hold_after = 2  # the first hour's window, one page by id, then the loader waits
    async with app_with(
        kafka_bootstrap_servers=None,
        binance_rest_url=binance.url,
        telemetry_interval_seconds=0.2,
    ) as qm:
        await qm.state.plane.dispatcher.assigned.wait()
        first = await qm.start(pipeline("api_trades"))
        await binance.holding.wait()
        await eventually(
            lambda: coverage(qm.client, "agg_trades"),
            lambda series: states(series)[0][1] >= 1000,
            within=30,
            what="the first pages in the coverage map",
        )
        await kill_loader(qm, first)
        binance.release.set()
        series = await coverage(qm.client, "agg_trades")
        [(state, landed), after] = states(series)
        assert (state, after) == ("partial", ("missing", 0)) and 1000 <= landed < 1440
        [hole] = series["days"][0]["missing"]
        assert (hole["first"], hole["last"], hole["end"]) == (
            1440 + landed,
            None,
            "2024-06-01T23:59:59.999Z",
        )
        collection = series["days"][0]["collections"][0]
        [queue] = (await fill(qm.client, "agg_trades"))["queues"]
        assert (queue["loader_type"], queue["collection"]) == ("api_agg_trades", collection)
        filled = await qm.wait_for(
            queue["queue_id"], lambda q: q["status"] in ("finished", "error"), within=40
        )
        assert filled["status"] == "finished", filled
        series = await merged(qm.client, "agg_trades")
        assert states(series) == [("complete", 1440), ("complete", 1440)]
        await qm.client.post("/queues/stop", params={"queue_id": first})
        database = qm.state.settings.database_path
    rows = table_rows(database, collection)
    assert set(rows) == {f"binance:BTCUSDT:trade:agg:{a}" for a in range(1440, 1440 + 2 * 1440)}


async def test_a_load_that_fails_before_any_record_marks_its_days_failed(app_with: Any) -> None:
    """The loader gives up on an exchange it cannot reach: the connector reports its range
    as failed, with the reason, and the days stay failed until records land."""
    async with app_with(
        kafka_bootstrap_servers=None,
        binance_rest_url=f"http://127.0.0.1:{free_port()}",
        history_give_up_seconds=1.0,
        telemetry_interval_seconds=0.2,
    ) as qm:
        await qm.state.plane.dispatcher.assigned.wait()
        queue_id = await qm.start(pipeline("api_candles_1m"))
        ended = await qm.wait_for(queue_id, lambda q: q["status"] in ("error", "finished"), 40)
        assert ended["status"] == "error"
        series = await coverage(qm.client, "candles_1m")
    assert states(series) == [("failed", 0), ("failed", 0)]
    reason = series["days"][0]["reason"]
    assert reason.startswith("source loader qm-") and "gave up on GET" in reason
    assert series["summary"]["failed"] == 2
