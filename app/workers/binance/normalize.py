"""Binance payloads -> the normalized records of app/workers/records.py.

Prices and quantities are passed through as the exchange's strings, never floats.
"""

from __future__ import annotations

from typing import Any

from app.workers.binance.wire import AggTradeEvent, TradeEvent
from app.workers.records import (
    Book,
    Candle,
    Level,
    Ticker,
    Trade,
    candle_id,
    record_id,
)


def candle_from_row(exchange: str, symbol: str, interval: str, row: list[Any], now: int) -> Candle:
    """A REST kline row `[openTime, o, h, l, c, v, closeTime, qv, n, ...]`."""
    open_time, close_time = int(row[0]), int(row[6])
    return {
        "id": candle_id(exchange, symbol, interval, open_time),
        "kind": "candle",
        "exchange": exchange,
        "symbol": symbol,
        "event_time": close_time,
        "received_time": now,
        "interval": interval,
        "open_time": open_time,
        "close_time": close_time,
        "open": row[1],
        "high": row[2],
        "low": row[3],
        "close": row[4],
        "volume": row[5],
        "quote_volume": row[7],
        "trades": int(row[8]),
        "closed": close_time < now,
    }


def agg_trade(exchange: str, symbol: str, data: dict[str, Any], now: int) -> Trade:
    """A REST aggTrades row or a WS aggTrade event (`a,p,q,T,m`). Ids by f-string, the
    same as record_id(..., "trade", "agg", a): made for every aggregate trade."""
    agg_id = data["a"]
    return {
        "id": f"{exchange}:{symbol}:trade:agg:{agg_id}",
        "kind": "trade",
        "exchange": exchange,
        "symbol": symbol,
        "event_time": data.get("E", data["T"]),
        "received_time": now,
        "trade_id": f"agg:{agg_id}",
        "price": data["p"],
        "quantity": data["q"],
        "buyer_is_maker": data["m"],
    }


def trade(exchange: str, data: TradeEvent, now: int) -> Trade:
    """A WS trade event (app/workers/binance/wire.py)."""
    symbol, number = data.s, str(data.id)
    return {
        "id": f"{exchange}:{symbol}:trade:{number}",
        "kind": "trade",
        "exchange": exchange,
        "symbol": symbol,
        "event_time": data.E,
        "received_time": now,
        "trade_id": number,
        "price": data.p,
        "quantity": data.q,
        "buyer_is_maker": data.m,
    }


def historical_trades(
    exchange: str, symbol: str, rows: list[dict[str, Any]], now: int
) -> list[Any]:
    """A page of REST historicalTrades rows (`id,price,qty,time,isBuyerMaker`): the same
    records as the WS trade events of those ids (Kafka keys, document ids). Built in one
    comprehension: a backfill makes a million of them (bench backfill)."""
    prefix = f"{exchange}:{symbol}:trade:"
    return [
        {
            "id": prefix + (number := str(row["id"])),
            "kind": "trade",
            "exchange": exchange,
            "symbol": symbol,
            "event_time": row["time"],
            "received_time": now,
            "trade_id": number,
            "price": row["price"],
            "quantity": row["qty"],
            "buyer_is_maker": row["isBuyerMaker"],
        }
        for row in rows
    ]


def ws_agg_trade(exchange: str, data: AggTradeEvent, now: int) -> Trade:
    """A WS aggTrade event (app/workers/binance/wire.py): the record agg_trade makes of a
    REST row, made here from the Struct; it runs for every event of the busiest streams
    (bench loaders)."""
    symbol, trade_id = data.s, f"agg:{data.id}"
    return {
        "id": f"{exchange}:{symbol}:trade:{trade_id}",
        "kind": "trade",
        "exchange": exchange,
        "symbol": symbol,
        "event_time": data.E,
        "received_time": now,
        "trade_id": trade_id,
        "price": data.p,
        "quantity": data.q,
        "buyer_is_maker": data.m,
    }


def kline(exchange: str, data: dict[str, Any], now: int) -> Candle:
    """A WS kline event; `k.x` says whether the candle is closed."""
    k = data["k"]
    symbol = data["s"]
    return {
        "id": candle_id(exchange, symbol, k["i"], k["t"]),
        "kind": "candle",
        "exchange": exchange,
        "symbol": symbol,
        "event_time": data["E"],
        "received_time": now,
        "interval": k["i"],
        "open_time": k["t"],
        "close_time": k["T"],
        "open": k["o"],
        "high": k["h"],
        "low": k["l"],
        "close": k["c"],
        "volume": k["v"],
        "quote_volume": k["q"],
        "trades": k["n"],
        "closed": k["x"],
    }


def _ticker(exchange: str, symbol: str, event_time: int, now: int, **fields: Any) -> Ticker:
    blank: dict[str, Any] = dict.fromkeys(
        ("last", "bid", "bid_quantity", "ask", "ask_quantity", "open", "high", "low", "volume")
    )
    record: dict[str, Any] = {
        "id": record_id(exchange, symbol, "ticker", fields.pop("key"), event_time),
        "kind": "ticker",
        "exchange": exchange,
        "symbol": symbol,
        "event_time": event_time,
        "received_time": now,
        **blank,
        **fields,
    }
    return record  # type: ignore[return-value]


def ticker_24h(exchange: str, data: dict[str, Any], now: int) -> Ticker:
    """A 24hrTicker event (`c,b,B,a,A,o,h,l,v`)."""
    return _ticker(
        exchange,
        data["s"],
        data["E"],
        now,
        key="24h",
        last=data["c"],
        bid=data.get("b"),
        bid_quantity=data.get("B"),
        ask=data.get("a"),
        ask_quantity=data.get("A"),
        open=data["o"],
        high=data["h"],
        low=data["l"],
        volume=data["v"],
    )


def book_ticker(exchange: str, data: dict[str, Any], now: int) -> Ticker:
    """A bookTicker event (`u,s,b,B,a,A`, no `e`; futures adds `E`); keyed by update id."""
    return _ticker(
        exchange,
        data["s"],
        data.get("E", now),
        now,
        key=f"book:{data['u']}",
        bid=data["b"],
        bid_quantity=data["B"],
        ask=data["a"],
        ask_quantity=data["A"],
    )


def mark_price(exchange: str, data: dict[str, Any], now: int) -> Ticker:
    """A futures markPriceUpdate (`p` mark price, `i` index price) as a ticker's last."""
    return _ticker(exchange, data["s"], data["E"], now, key="mark", last=data["p"])


def book_record(
    exchange: str,
    symbol: str,
    *,
    kind: str,
    bids: list[Level],
    asks: list[Level],
    ids: tuple[int | None, int],
    event_time: int,
    now: int,
) -> Book:
    """A book_snapshot (whole book) or book_update (changed levels) record."""
    first, last = ids
    return {
        "id": record_id(exchange, symbol, kind, last),  # type: ignore[arg-type]
        "kind": kind,  # type: ignore[typeddict-item]
        "exchange": exchange,
        "symbol": symbol,
        "event_time": event_time,
        "received_time": now,
        "bids": bids,
        "asks": asks,
        "first_update_id": first,
        "last_update_id": last,
    }
