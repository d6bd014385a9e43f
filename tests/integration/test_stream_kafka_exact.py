"""The Binance aggTrade stream loader on the real job runtime, into the embedded broker:
every record on the topic carries the exchange's price and quantity strings unchanged
(`0.00000001`, `43000.12345678`, `0.020`: never floats), keyed by symbol, each id once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.bus.kafka import KafkaBus
from app.naming import job_name
from app.workers.base import JobContext, JobEnv
from app.workers.binance import jobs
from app.workers.runtime import RuntimeOptions, run_job_async
from tests.fakes.binance_ws import FakeBinanceWs
from tests.fixtures.jobs import JobTopics, stop_command
from tests.fixtures.kafka_reader import read_topic
from tests.integration.test_stream_gaps import FAST

pytestmark = pytest.mark.timeout(60)
RUNTIME = RuntimeOptions(stop_timeout=2, broker_connect_timeout=5, telemetry_retry_seconds=5)
TYPE = "ws_agg_trades"
SYMBOLS = ("BTCUSDT", "ETHUSDT")


@pytest.fixture
async def ws() -> AsyncIterator[FakeBinanceWs]:
    fake = FakeBinanceWs()
    await fake.start()
    yield fake
    await fake.stop()


def env(topics: JobTopics, ws: FakeBinanceWs) -> JobEnv:
    return topics.env(
        None,
        TARGET="loader-producer",
        JOB_TYPE=TYPE,
        JOB_NAME=job_name(topics.queue_id, "loader-producer", TYPE),
        EXCHANGE="binance",
        SYMBOLS=",".join(SYMBOLS),
        BINANCE_WS_URL=ws.url,
    )


async def loader(ctx: JobContext) -> None:
    await jobs.run(ctx, FAST)


async def test_prices_and_quantities_reach_kafka_as_the_exchange_wrote_them(
    ws: FakeBinanceWs, topics: JobTopics, bus: KafkaBus
) -> None:
    loading = asyncio.create_task(run_job_async(loader, env(topics, ws), RUNTIME))
    written = await read_topic(topics.bootstrap, topics.records, lambda m: len(m) >= 60, 20)
    await bus.send_json(topics.control, topics.queue_id, stop_command(topics.queue_id))
    assert await asyncio.wait_for(loading, 10) == 0

    sent = {
        (event["s"], event["a"]): (event["p"], event["q"])
        for stream in ws.tape.streams.values()
        for event in stream
    }
    got = {
        (r.key, int(r.value["trade_id"].removeprefix("agg:"))): (
            r.value["price"],
            r.value["quantity"],
        )
        for r in written
    }
    assert len(got) == len(written), "each aggregate trade once"
    assert got == {key: sent[key] for key in got}, "the exchange's strings, digit for digit"
    assert ("43000.12345678", "0.00000001") in got.values()
    assert any(quantity == "0.020" for _, quantity in got.values()), "trailing zeros kept"
    assert {r.value["symbol"] for r in written} == set(SYMBOLS) == {r.key for r in written}
