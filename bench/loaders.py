"""`loaders`: the exchange loaders on loopback against their protocol fakes.

Binance (bench/loaders_binance.py, bench/loaders_kafka.py), one local aggTrade feed of 10
symbols: messages/s through the stream loader (receive, parse, gap check, normalise, batch)
into a counting sink, next to a raw `websockets` receive loop on the same feed (the issue's
baseline; the loader receives through aiohttp, whose bare loop is shown too); and records/s
through the same loader and its Kafka sink into the embedded broker, next to a bare
aiokafka producer sending the same records in acknowledged batches with the same settings.
MOEX: time until 1500 tickers are subscribed over 30 connections, and until all are back
after the server drops every connection (bench/loaders_moex.py).
"""

from __future__ import annotations

from bench import loaders_binance, loaders_moex
from bench.report import Row

PARSE_TARGET = 0.8
KAFKA_TARGET = 0.7


def binance_rows(figures: dict[str, float]) -> list[Row]:
    return parse_rows(figures) + kafka_rows(figures)


def parse_rows(figures: dict[str, float]) -> list[Row]:
    loader, raw = figures["loader_msgs_per_s"], figures["raw_msgs_per_s"]
    return [
        Row("loaders/binance", "raw websockets receive loop, aggTrade x 10", raw, "msg/s"),
        Row(
            "loaders/binance",
            "stream loader: parse, gap check, normalise, batch (counting sink)",
            loader,
            "msg/s",
            raw,
            f">= {PARSE_TARGET:g} x raw",
            loader / raw >= PARSE_TARGET,
        ),
        Row(
            "loaders/binance",
            "CPU per message: stream loader (baseline: raw loop)",
            figures["loader_cpu_us"],
            "us",
            figures["raw_cpu_us"],
        ),
        Row(
            "loaders/binance",
            "raw aiohttp receive loop (the loader's receive layer; info)",
            figures["aiohttp_msgs_per_s"],
            "msg/s",
        ),
        Row(
            "loaders/binance",
            "CPU per message: stream loader (baseline: raw aiohttp loop)",
            figures["loader_cpu_us"],
            "us",
            figures["aiohttp_cpu_us"],
        ),
    ]


def kafka_rows(figures: dict[str, float]) -> list[Row]:
    into_kafka, bare = figures["kafka_loader_records_per_s"], figures["kafka_bare_records_per_s"]
    return [
        Row("loaders/binance", "bare aiokafka producer -> embedded broker", bare, "rec/s"),
        Row(
            "loaders/binance",
            "stream loader -> Kafka sink -> embedded broker",
            into_kafka,
            "rec/s",
            bare,
            f">= {KAFKA_TARGET:g} x bare",
            into_kafka / bare >= KAFKA_TARGET,
        ),
        Row(
            "loaders/binance",
            "CPU per record: loader into Kafka (baseline: bare producer)",
            figures["kafka_loader_cpu_us"],
            "us",
            figures["kafka_bare_cpu_us"],
        ),
    ]


def run(seconds: float = 5.0) -> list[Row]:
    binance = loaders_binance.run(min(seconds, 10.0))
    return binance_rows(binance) + loaders_moex.rows(loaders_moex.run())
