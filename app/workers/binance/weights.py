"""The request weight Binance charges for each REST call we make (protocols/binance.md),
checked against the spot API docs (rest-api.md, 2026-07) and the USD-M futures docs.

Spot (limit 6,000 a minute per IP): klines 2, aggTrades 4, historicalTrades 25, trades 25,
depth by `limit` (1-100: 5, 101-500: 25, 501-1000: 50, 1001-5000: 250).
USD-M futures (limit 2,400 a minute per IP, counted apart from spot): klines by `limit`
(under 100: 1, under 500: 2, up to 1000: 5, over: 10), aggTrades 20, historicalTrades 20,
trades 5, depth by `limit` (5-50: 2, 100: 5, 500: 10, 1000: 20).
An endpoint missing here is charged UNKNOWN_WEIGHT: more than any single-symbol market-data
call but a full depth snapshot, so a new call errs on the side of the budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

UNKNOWN_WEIGHT = 25
SPOT_FIXED = {"klines": 2, "aggTrades": 4, "historicalTrades": 25, "trades": 25}
FUTURES_FIXED = {"aggTrades": 20, "historicalTrades": 20, "trades": 5}
SPOT_DEPTH = ((100, 5), (500, 25), (1000, 50), (5000, 250))
FUTURES_DEPTH = ((50, 2), (100, 5), (500, 10), (1000, 20))
FUTURES_KLINES = ((99, 1), (499, 2), (1000, 5), (1500, 10))
DEFAULT_LIMITS = {"depth": (100, 500), "klines": (500, 500)}
"""Binance's default `limit` when a call sends none: (spot, futures)."""


def request_weight(path: str, params: Mapping[str, Any]) -> int:
    """The weight of GET `path` (e.g. /api/v3/klines, /fapi/v1/depth) with `params`."""
    futures = path.startswith("/fapi/")
    endpoint = path.rstrip("/").rsplit("/", 1)[-1]
    fixed = (FUTURES_FIXED if futures else SPOT_FIXED).get(endpoint)
    if fixed is not None:
        return fixed
    if endpoint == "depth":
        return _by_limit(FUTURES_DEPTH if futures else SPOT_DEPTH, _limit(params, "depth", futures))
    if endpoint == "klines" and futures:
        return _by_limit(FUTURES_KLINES, _limit(params, "klines", futures))
    return UNKNOWN_WEIGHT


def _limit(params: Mapping[str, Any], endpoint: str, futures: bool) -> int:
    try:
        return int(params["limit"])
    except (KeyError, TypeError, ValueError):
        return DEFAULT_LIMITS[endpoint][1 if futures else 0]


def _by_limit(table: tuple[tuple[int, int], ...], limit: int) -> int:
    """The weight of the first row whose upper bound holds `limit` (the last beyond)."""
    return next((weight for bound, weight in table if limit <= bound), table[-1][1])
