"""The Kafka sink's record encoding (msgspec) gives the bytes orjson gave for every kind
of normalized record, exact price and quantity strings included."""

from __future__ import annotations

import orjson
import pytest

from app.workers.binance.normalize import book_record, candle_from_row, ws_agg_trade
from app.workers.binance.wire import AggTradeEvent
from app.workers.kafka_sink import encode_record

EXACT = "0.00000001"
TRADE = AggTradeEvent(E=1, s="BTCUSDT", id=7, p="65000.10", q=EXACT, T=1, m=True)
ROW = [1_717_200_000_000, "1.10", "2.0", "0.5", "1.5", "10", 1_717_200_059_999, None, 3]
BOOK = book_record(
    "binance",
    "BTCUSDT",
    kind="book_update",
    bids=[("65000.10", EXACT)],
    asks=[],
    ids=(None, 9),
    event_time=1,
    now=2,
)
RECORDS = {
    "trade": ws_agg_trade("binance", TRADE, 2),
    "candle": candle_from_row("binance", "BTCUSDT", "1m", ROW, 2),
    "book": BOOK,
    "unicode": {"symbol": "SBER", "name": "Сбербанк", "quote": 'a"b\\c\n'},
}


@pytest.mark.parametrize("kind", RECORDS)
def test_records_encode_as_orjson_did(kind: str) -> None:
    record = RECORDS[kind]
    assert encode_record(record) == orjson.dumps(record)


def test_prices_stay_the_exchanges_strings() -> None:
    encoded = orjson.loads(encode_record(RECORDS["trade"]))
    assert (encoded["price"], encoded["quantity"]) == ("65000.10", EXACT)
