"""The connector's coverage ledger: which written records lie where in the coverage map."""

from __future__ import annotations

from datetime import date
from typing import Any

from app.coverage.days import day_start_ms
from app.coverage.runs import Run
from app.workers.connector.coverage import CoverageLedger, point_of

DAY = date(2024, 6, 1)
START = day_start_ms(DAY)
MINUTE = 60_000


def candle(minute: int, closed: bool = True, interval: str = "1m") -> dict[str, Any]:
    open_time = START + minute * MINUTE
    return {
        "exchange": "binance",
        "symbol": "BTCUSDT",
        "kind": "candle",
        "interval": interval,
        "open_time": open_time,
        "closed": closed,
    }


def trade(agg_id: int, at: int, **bounds: int) -> dict[str, Any]:
    return {
        "exchange": "binance",
        "symbol": "BTCUSDT",
        "kind": "trade",
        "trade_id": f"agg:{agg_id}",
        "event_time": START + at,
        **bounds,
    }


def test_a_closed_candle_proves_its_span_and_an_open_one_nothing() -> None:
    closed, still_open = point_of(candle(3)), point_of(candle(4, closed=False))
    assert closed is not None and still_open is not None
    assert closed.run == Run(
        START + 3 * MINUTE, START + 3 * MINUTE, START + 3 * MINUTE, START + 4 * MINUTE - 1
    )
    assert still_open.run is None and still_open.key.day == DAY


def test_records_outside_the_map_are_left_out() -> None:
    assert point_of({**candle(1), "exchange": "moex"}) is None
    assert point_of(candle(0, interval="1w")) is None
    assert point_of({**candle(0), "open_time": START + 1}) is None  # not on the interval
    assert point_of({**trade(1, 0), "trade_id": "x:1"}) is None
    assert point_of({"exchange": "binance", "symbol": "BTCUSDT", "kind": "ticker"}) is None


def test_a_trade_proves_the_time_up_to_the_bounds_the_loader_marked() -> None:
    plain = point_of(trade(7, 500))
    first = point_of(trade(7, 500, bound_from_ms=START))
    last = point_of(trade(7, 500, bound_to_ms=START + 999))
    assert plain is not None and plain.run == Run(7, 7, START + 501, START + 499)
    assert first is not None and first.run is not None and first.run.from_ms == START
    assert last is not None and last.run is not None and last.run.to_ms == START + 999
    raw = point_of({**trade(7, 500), "trade_id": "7"})
    assert raw is not None and raw.key.data_type == "trades"


def test_the_ledger_reports_each_changed_day_once_with_all_it_knows() -> None:
    ledger = CoverageLedger()
    ledger.add([candle(0), candle(1), candle(1)])
    [day] = ledger.changed(10)
    assert day.runs == [(START, START + MINUTE, START, START + 2 * MINUTE - 1)]
    ledger.sent([day])
    assert not ledger.has_changes and ledger.changed(10) == []
    ledger.add([candle(2), {**candle(5), "open_time": START + 86_400_000}])
    again, tomorrow = ledger.changed(10)
    assert again.runs == [(START, START + 2 * MINUTE, START, START + 3 * MINUTE - 1)]
    assert tomorrow.day == date(2024, 6, 2) and (again.first_ms, again.last_ms) == (
        START,
        START + 2 * MINUTE,
    )


def test_a_day_of_many_runs_goes_out_in_slices_that_add_up_to_it() -> None:
    ledger = CoverageLedger()
    ledger.add([candle(minute) for minute in range(0, 200, 2)])  # 100 runs: every other
    ledger.add([candle(0, interval="1h")])
    sent: list[Any] = []
    while ledger.has_changes:
        message = ledger.changed(runs=30)
        assert sum(len(day.runs) for day in message) <= 30
        sent.extend(message)
        ledger.sent(message)
    minutes = [day for day in sent if day.data_type == "candles_1m"]
    assert len(minutes) == 4 and sum(len(day.runs) for day in minutes) == 100
    assert [day.data_type for day in sent].count("candles_1h") == 1
    ledger.add([candle(1)])  # the day changed: it goes out whole again
    assert [len(day.runs) for day in ledger.changed(runs=1000)] == [99]
