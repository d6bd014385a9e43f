"""The local aggTrade feed of `bench loaders`: 10 symbols, ids that keep advancing.

The stream loader drops repeated ids (gap detection), so a feed that replays the same
frames would be counted once. Each round is one pre-framed blob made from a template with
the ids left open (`%d`, every id 13 digits, so each frame's length and header are fixed):
one C-level format per round, cheap enough that the feed server is never the bottleneck.
"""

from __future__ import annotations

from typing import Any

import orjson

from tests.fakes.binance_events import agg_trade
from tests.fakes.binance_ws import text_frame

SYMBOLS = (
    "BTCUSDT",
    "ETHUSDT",
    "BNBUSDT",
    "SOLUSDT",
    "XRPUSDT",
    "ADAUSDT",
    "DOGEUSDT",
    "TRXUSDT",
    "LINKUSDT",
    "DOTUSDT",
)
PRICES = ("65000.10", "0.00000001", "43000.12345678", "0.010")
"""Prices and quantities a binary float would not keep: they must arrive byte-identical."""
FIRST_ID = 10**12
PLACEHOLDER = 9_999_999_999_999
"""An id of the same width as the real ones, replaced by `%d` in the template."""
PER_SYMBOL = 1000


def streams(symbols: tuple[str, ...] = SYMBOLS) -> list[str]:
    return [f"{symbol.lower()}@aggTrade" for symbol in symbols]


def event(symbol: str, n: int, agg_id: int) -> dict[str, Any]:
    """The `n`th aggTrade of a round, with id `agg_id` (also its first and last trade id)."""
    data = agg_trade(symbol, n, futures=False)
    data.update(a=agg_id, f=agg_id, l=agg_id, p=PRICES[n % 4], q=PRICES[(n + 1) % 4])
    return data


def payload(symbol: str, n: int, agg_id: int) -> bytes:
    """The combined-stream message of that event, as Binance sends it."""
    return orjson.dumps({"stream": f"{symbol.lower()}@aggTrade", "data": event(symbol, n, agg_id)})


def _template(symbol: str, n: int) -> bytes:
    frame = text_frame(payload(symbol, n, PLACEHOLDER)).replace(b"%", b"%%")
    return frame.replace(str(PLACEHOLDER).encode(), b"%d")


class AggTradeFeed:
    """`feed(round)`: the framed bytes of round `round`, ids continuing the previous one."""

    def __init__(self, symbols: tuple[str, ...] = SYMBOLS, per_symbol: int = PER_SYMBOL) -> None:
        self.symbols, self.per_symbol = symbols, per_symbol
        self.template = b"".join(_template(s, n) for n in range(per_symbol) for s in symbols)
        self.ids_per_frame = 3

    @property
    def frames_per_round(self) -> int:
        return self.per_symbol * len(self.symbols)

    def __call__(self, round_number: int) -> bytes:
        base = FIRST_ID + round_number * self.per_symbol
        width, per_frame = len(self.symbols), self.ids_per_frame
        ids = [base + n for n in range(self.per_symbol) for _ in range(width * per_frame)]
        return self.template % tuple(ids)

    def events(self, round_number: int = 0) -> list[dict[str, Any]]:
        """The events of one round as dicts (what the bare producer's records are made of)."""
        base = FIRST_ID + round_number * self.per_symbol
        return [event(s, n, base + n) for n in range(self.per_symbol) for s in self.symbols]
