"""Derived names: DNS-1123 job names, seed-002 topic and collection names."""

from __future__ import annotations

import re
from datetime import date

from app import naming
from app.models.catalog import Exchange

DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def test_job_names_are_dns_labels_and_deterministic() -> None:
    queue_id = "b927fa13-3b22-4d44-bc81-1f902a222eee"
    name = naming.job_name(queue_id, "loader-producer", "api_candles_5m")
    assert DNS_1123.match(name) and len(name) <= 63
    assert name == naming.job_name(queue_id, "loader-producer", "api_candles_5m")
    assert name != naming.job_name(queue_id, "arango-connector", "api_candles_5m")


def test_long_job_names_are_cut_with_a_hash_and_stay_unique() -> None:
    long_a = naming.job_name("q" * 36, "graph-builder", "x" * 60 + "a")
    long_b = naming.job_name("q" * 36, "graph-builder", "x" * 60 + "b")
    assert len(long_a) <= 63 and DNS_1123.match(long_a)
    assert long_a != long_b


def test_data_names_follow_seed_002() -> None:
    june = (date(2024, 6, 1), date(2024, 6, 30))
    assert naming.data_name(["BTCUSDT"], Exchange.BINANCE, "api_candles_5m", *june) == (
        "btc_candles_5m_2024_06"
    )
    day = (date(2024, 8, 1), date(2024, 8, 1))
    assert naming.data_name(["BTCUSDT"], Exchange.BINANCE, "ws_trades", *day) == (
        "btc_ws_trades_2024_08_01"
    )
    assert naming.data_name(["SBER", "GAZP"], Exchange.MOEX, "ws_candles", *day) == (
        "sber_x2_moex_ws_candles_2024_08_01"
    )
    partial = (date(2024, 6, 3), date(2024, 6, 5))
    assert naming.period_suffix(*partial) == "20240603_20240605"
