"""Job planning: tickers over connections, selectors, intervals, options, backoff."""

from __future__ import annotations

import pytest

from app.aio import Backoff
from app.workers.moex.errors import MoexJobInvalid
from app.workers.moex.loader import LoaderOptions, plan
from tests.fakes.moex_job import moex_env


def test_1500_tickers_make_30_connections_of_50() -> None:
    env = moex_env("ws://127.0.0.1:1", "ws_orderbooks", [f"T{n}" for n in range(1500)])
    groups = plan(env, LoaderOptions())
    assert [len(group) for group in groups] == [50] * 30
    assert groups[0][0].destination == "MXSE.orderbooks"
    assert groups[0][0].selector == 'TICKER="MXSE.TQBR.T0"'


def test_candle_interval_comes_from_the_request_and_qualified_tickers_keep_their_board() -> None:
    env = moex_env(
        "ws://x",
        "ws_candles",
        ["MXCX.CETS.USD000UTSTOM", "SBER", "SBER"],
        request_json='{"interval": "H1"}',
    )
    (group,) = plan(env, LoaderOptions())
    assert [s.selector for s in group] == [
        'TICKER="MXCX.CETS.USD000UTSTOM" and interval="H1"',
        'TICKER="MXSE.TQBR.SBER" and interval="H1"',
    ]
    assert group[0].destination == "MXCX.candles" and group[0].symbol == "USD000UTSTOM"
    headers = group[1].headers()
    assert headers["id"] == headers["receipt"]


@pytest.mark.parametrize(
    ("job_type", "request_json", "tickers"),
    [
        ("ws_trades", "{}", ["SBER"]),
        ("ws_candles", '{"interval": "M5"}', ["SBER"]),
        ("ws_candles", "{}", []),
    ],
)
def test_invalid_jobs_raise_our_error(job_type: str, request_json: str, tickers: list[str]) -> None:
    with pytest.raises(MoexJobInvalid):
        plan(moex_env("ws://x", job_type, tickers, request_json=request_json), LoaderOptions())


def test_options_come_from_the_request_ignoring_unknown_keys() -> None:
    options = LoaderOptions.from_request({"tickers_per_connection": 10, "interval": "M1"})
    assert options.tickers_per_connection == 10 and options.subscribe_delay == 0.02


def test_backoff_is_jittered_capped_and_resets() -> None:
    backoff = Backoff(initial=1.0, cap=4.0)
    delays = [backoff.next_delay() for _ in range(40)]
    assert 0.5 <= delays[0] <= 1.0 and all(2.0 <= d <= 4.0 for d in delays[3:])
    backoff.reset()
    assert backoff.next_delay() <= 1.0
