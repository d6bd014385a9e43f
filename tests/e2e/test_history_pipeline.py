"""Seed 002's historical pipeline end to end, embedded mode: the real app starts its own
broker, launches `python -m app.workers` processes for the loader and the connector, the
loader reads the local Binance REST fake, and the candles land in SQLite document tables."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.binance_rest import FakeBinanceRest, kline_row
from tests.fixtures.documents import DAY0, FIVE_MINUTES, table_rows

pytestmark = pytest.mark.timeout(40)
PIPELINE = {
    "symbol": "BTCUSDT",
    "time_range": "2024-06-01:2024-06-02",
    "requests": [
        {"target": "loader-producer", "type": "api_candles_5m", "interval": "5m"},
        {"target": "arango-connector", "type": "api_candles_5m"},
    ],
}
COLLECTION = "btc_candles_5m_20240601_20240602"
FIELDS = ("open", "high", "low", "close", "volume", "close_time", "quote_volume", "trades")


def served_candles() -> dict[str, dict[str, Any]]:
    """What the fake serves for two days of 5m klines, keyed like the loader's record ids."""
    open_times = range(DAY0, DAY0 + 2 * 86_400_000, FIVE_MINUTES)
    rows = [kline_row(t, FIVE_MINUTES) for t in open_times]
    return {f"binance:BTCUSDT:candle:5m:{row[0]}": _fields_of_row(row) for row in rows}


def _fields_of_row(row: list[Any]) -> dict[str, Any]:
    values = (row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8])
    return dict(zip(FIELDS, values, strict=True))


def stored_candles(database: Path) -> dict[str, dict[str, Any]]:
    rows = table_rows(database, COLLECTION)
    return {key: {name: doc[name] for name in FIELDS} for key, doc in rows.items()}


async def dispatcher_ready(qm: Any) -> None:
    """Telemetry is read from here on (a job's final report must not race its exit)."""
    dispatcher = qm.state.plane.dispatcher
    assert dispatcher is not None
    await asyncio.wait_for(dispatcher.assigned.wait(), 20)


def ended(queue: dict[str, Any]) -> bool:
    return queue["status"] in ("finished", "stopped", "error")


def counted(records: int) -> Callable[[dict[str, Any]], bool]:
    """The queue and each of its jobs report exactly `records` records written."""

    def check(queue: dict[str, Any]) -> bool:
        jobs = [job["records_written"] for job in queue["jobs"]]
        return queue["records_written"] == records and jobs == [records, records]

    return check


async def test_history_pipeline_lands_every_served_candle_once(
    app_with: Any, binance: FakeBinanceRest, tmp_path: Path
) -> None:
    async with app_with(
        kafka_bootstrap_servers=None,  # embedded mode: the app starts its own broker
        binance_rest_url=binance.url,
        telemetry_interval_seconds=0.2,
    ) as qm:
        await dispatcher_ready(qm)
        queue_id = await qm.start(PIPELINE)
        queue = await qm.wait_for(queue_id, ended, within=30)
        assert queue["status"] == "finished", queue
        # a job's final telemetry may be read just after the launcher saw its exit
        queue = await qm.wait_for(queue_id, counted(576), within=5)
        database = qm.state.settings.database_path
    expected = served_candles()
    assert len(expected) == 576 and binance.requests_to("/klines")
    assert stored_candles(database) == expected
    connector = next(job for job in queue["jobs"] if job["target"] == "arango-connector")
    assert connector["collection"] == COLLECTION
    assert connector["last_loaded_timestamp"] == "2024-06-02T23:55:00.000Z"
