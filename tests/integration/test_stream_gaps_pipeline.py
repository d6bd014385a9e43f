"""The whole path: a Binance trade stream dropped for seconds, the loader on the real job
runtime writing to Kafka, the connector copying into the SQLite collection. The collection
ends with every trade id from first to last exactly once, and the gap shows in telemetry."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.bus.kafka import KafkaBus
from app.naming import job_name
from app.workers.arango_connector import connector
from app.workers.base import JobContext, JobEnv
from app.workers.binance import jobs
from app.workers.connector.plan import ConnectorSettings
from app.workers.runtime import RuntimeOptions, run_job_async
from tests.fakes.binance_rest import FakeBinanceRest
from tests.fakes.binance_ws import FakeBinanceWs
from tests.fixtures.documents import table_rows
from tests.fixtures.eventually import eventually
from tests.fixtures.jobs import JobTopics, read_telemetry, stop_command
from tests.fixtures.kafka_reader import read_topic
from tests.integration.test_stream_gaps import FAST

pytestmark = pytest.mark.timeout(60)
RUNTIME = RuntimeOptions(stop_timeout=2, broker_connect_timeout=5, telemetry_retry_seconds=5)
COPY = ConnectorSettings(collection="trades", connector_batch_size=200, connector_poll_ms=50)
TYPE = "ws_trades"


@pytest.fixture
async def exchange() -> AsyncIterator[tuple[FakeBinanceWs, FakeBinanceRest]]:
    ws = FakeBinanceWs(message_limit=10)
    rest = FakeBinanceRest(live=ws.tape)
    await ws.start()
    await rest.start()
    yield ws, rest
    await ws.stop()
    await rest.stop()


def env(topics: JobTopics, target: str, **extra: str) -> JobEnv:
    return topics.env(
        None,
        TARGET=target,
        JOB_TYPE=TYPE,
        JOB_NAME=job_name(topics.queue_id, target, TYPE),
        EXCHANGE="binance",
        SYMBOLS="BTCUSDT",
        **extra,
    )


async def loader(ctx: JobContext) -> None:
    await jobs.run(ctx, FAST)


def trade_ids(rows: dict[str, dict[str, Any]]) -> list[int]:
    return sorted(int(row["trade_id"]) for row in rows.values())


def assert_exact(rows: dict[str, dict[str, Any]], ws: FakeBinanceWs) -> None:
    """Every price and quantity in the collection is the exchange's, digit for digit
    (streamed or backfilled; `0.00000001` and `43000.12345678` among them)."""
    sent = {e["t"]: (e["p"], e["q"]) for e in ws.tape.streams["btcusdt@trade"]}
    stored = {int(r["trade_id"]): (r["price"], r["quantity"]) for r in rows.values()}
    assert stored == {t: sent[t] for t in stored}
    assert ("43000.12345678", "0.00000001") in stored.values()


def complete(ids: list[int]) -> bool:
    return bool(ids) and ids == list(range(ids[0], ids[-1] + 1))


async def test_a_dropped_stream_lands_every_trade_id_once(
    exchange: tuple[FakeBinanceWs, FakeBinanceRest],
    topics: JobTopics,
    tmp_path: Path,
    bus: KafkaBus,
) -> None:
    ws, rest = exchange
    db = tmp_path / "qm.db"
    urls = {"BINANCE_WS_URL": ws.url, "BINANCE_REST_URL": rest.url}
    loading = asyncio.create_task(
        run_job_async(loader, env(topics, "loader-producer", **urls), RUNTIME)
    )
    copying = asyncio.create_task(
        run_job_async(
            connector(COPY), env(topics, "arango-connector", SQLITE_PATH=str(db)), RUNTIME
        )
    )
    await eventually(lambda: len(table_rows(db, "trades")), lambda n: n >= 50, within=15)
    await ws.outage(2.0)
    reports = await read_topic(
        topics.bootstrap,
        topics.control,
        lambda m: any(r.value.get("gaps_detected") and r.value.get("gaps_open") == 0 for r in m),
        within=20,
    )
    await eventually(
        lambda: trade_ids(table_rows(db, "trades")),
        lambda ids: complete(ids) and len(ids) > 400,
        within=20,
        what="a complete collection after the gap",
    )
    await bus.send_json(topics.control, topics.queue_id, stop_command(topics.queue_id))
    assert await asyncio.wait_for(loading, 10) == 0
    assert await asyncio.wait_for(copying, 10) == 0

    rows = table_rows(db, "trades")
    ids = trade_ids(rows)
    assert complete(ids), "every id from the first to the last, in the collection"
    assert_exact(rows, ws)
    written = await read_topic(topics.bootstrap, topics.records, lambda m: len(m) >= len(ids))
    repeats = [n for n, times in Counter(r.value["trade_id"] for r in written).items() if times > 1]
    assert repeats == [], "the loader wrote no record twice"
    gap = next(r.value for r in reports if r.value.get("gaps_open") == 0 and r.value["gaps"])
    filled = gap["gaps"][0]
    assert (
        filled["state"] == "filled" and filled["backfilled"] == filled["last"] - filled["first"] + 1
    )
    assert filled["backfilled"] >= 50, "two seconds of trades at up to 100 a second"
    assert set(range(filled["first"], filled["last"] + 1)) <= set(ids)
    name = job_name(topics.queue_id, "loader-producer", TYPE)
    final = [t for t in await read_telemetry(topics) if t["job"] == name][-1]
    assert final["records_backfilled"] == filled["backfilled"] and final["gaps_open"] == 0
