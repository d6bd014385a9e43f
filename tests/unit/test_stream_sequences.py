"""Gap finding on ordered streams: ids that jump, repeats dropped, candles that never closed."""

from __future__ import annotations

from typing import Any, cast

import msgspec
import pytest

from app.models.gaps import Gap
from app.workers.base import JobContext
from app.workers.binance.batcher import Batcher
from app.workers.binance.intervals import next_open, previous_open
from app.workers.binance.sequence import IdSequence, KlineSequence, sequence_for
from app.workers.binance.wire import AggTradeEvent, TradeEvent
from app.workers.gaps import GapBook
from tests.fakes import binance_events

MINUTE = 60_000
T0 = 1_717_200_000_000


def trade(symbol: str, n: int, futures: bool) -> TradeEvent:
    """A trade event as the stream's decoder makes it."""
    return msgspec.convert(binance_events.trade(symbol, n, futures), TradeEvent)


def agg_trade(symbol: str, n: int, futures: bool) -> AggTradeEvent:
    return msgspec.convert(binance_events.agg_trade(symbol, n, futures), AggTradeEvent)


kline_event = binance_events.kline_event


def handler(suffix: str) -> tuple[Any, list[Gap]]:
    found: list[Gap] = []
    batcher = Batcher(cast(JobContext, None), 1000)
    made = sequence_for("binance", suffix, batcher, GapBook(lambda _: None), found.append)
    assert made is not None
    return made, found


def feed(sequence: IdSequence, stream: str, ids: list[int], make: Any = trade) -> list[Any]:
    for n in ids:
        sequence(stream, make("BTCUSDT", n, False), 0)
    return [record["trade_id"] for record in sequence.batcher.pending]


def test_trade_ids_that_jump_are_a_gap_with_bounds_and_repeats_are_dropped() -> None:
    sequence, found = handler("trade")
    kept = feed(sequence, "btcusdt@trade", [1, 2, 3, 2, 3, 8, 9, 7, 10])
    assert kept == ["1", "2", "3", "8", "9", "10"]
    assert sequence.repeats == 3
    assert [(g["first"], g["last"], g["key"], g["symbol"]) for g in found] == [
        (4, 7, "trade_id", "BTCUSDT")
    ]
    assert found[0]["from_ms"] <= found[0]["to_ms"]


def test_aggregate_ids_are_followed_per_stream() -> None:
    sequence, found = handler("aggTrade")
    feed(sequence, "btcusdt@aggTrade", [5, 6], agg_trade)
    feed(sequence, "ethusdt@aggTrade", [100, 101], agg_trade)
    feed(sequence, "btcusdt@aggTrade", [7, 9], agg_trade)
    assert [(g["stream"], g["first"], g["last"], g["key"]) for g in found] == [
        ("btcusdt@aggTrade", 8, 8, "agg_id")
    ]


def test_continues_says_whether_a_successor_leaves_a_hole() -> None:
    sequence, _ = handler("trade")
    stream = "btcusdt@trade"
    assert sequence.continues(stream, trade("BTCUSDT", 50, False)), "nothing handled yet"
    feed(sequence, stream, [10])
    assert sequence.continues(stream, trade("BTCUSDT", 11, False))
    assert sequence.continues(stream, trade("BTCUSDT", 4, False))
    assert not sequence.continues(stream, trade("BTCUSDT", 12, False))


def candle(open_time: int, closed: bool, event_time: int) -> dict[str, Any]:
    event = kline_event("BTCUSDT", "1m", open_time, closed)
    return {**event, "E": event_time}


def test_a_candle_that_never_closed_and_the_ones_after_it_are_a_gap() -> None:
    sequence, found = handler("kline_1m")
    stream = "btcusdt@kline_1m"
    for event in [
        candle(T0, False, 1),
        candle(T0, True, 2),
        candle(T0 + MINUTE, False, 3),
        candle(T0 + 4 * MINUTE, False, 4),
    ]:
        sequence(stream, event, 0)
    assert [(g["first"], g["last"], g["key"]) for g in found] == [
        (T0 + MINUTE, T0 + 3 * MINUTE, "open_time")
    ]


def test_candles_that_follow_each_other_are_no_gap_and_stale_updates_are_dropped() -> None:
    sequence, found = handler("kline_1m")
    stream = "btcusdt@kline_1m"
    for event in [
        candle(T0, False, 5),
        candle(T0, False, 4),  # older update of the same candle
        candle(T0, True, 6),
        candle(T0, False, 7),  # after its close
        candle(T0 + MINUTE, False, 8),
        candle(T0, True, 9),  # an older candle
    ]:
        sequence(stream, event, 0)
    assert found == [] and sequence.repeats == 3
    assert [r["closed"] for r in sequence.batcher.pending] == [False, True, False]
    assert not sequence.continues(stream, candle(T0 + 2 * MINUTE, False, 10))
    assert sequence.continues(stream, candle(T0 + MINUTE, True, 10))


@pytest.mark.parametrize(
    ("interval", "open_time", "after"),
    [
        ("1s", T0, T0 + 1000),
        ("15m", T0, T0 + 900_000),
        ("1w", T0, T0 + 7 * 86_400_000),
        ("1M", 1_706_745_600_000, 1_709_251_200_000),  # 2024-02-01 -> 2024-03-01 (leap)
        ("1M", 1_733_011_200_000, 1_735_689_600_000),  # 2024-12-01 -> 2025-01-01
    ],
)
def test_interval_arithmetic(interval: str, open_time: int, after: int) -> None:
    assert next_open(open_time, interval) == after
    assert previous_open(after, interval) == open_time


def test_unordered_streams_have_no_sequence() -> None:
    batcher = Batcher(cast(JobContext, None), 10)
    assert sequence_for("binance", "ticker", batcher, GapBook(print), print) is None
    assert isinstance(
        sequence_for("binance", "kline_5m", batcher, GapBook(print), print), KlineSequence
    )
