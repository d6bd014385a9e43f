"""MOEX ISS candles for the candles a stream missed (the GapSource of app/workers/backfill.py).

`GET {MOEX_ISS_URL}/engines/{engine}/markets/{market}/boards/{board}/securities/{ticker}/
candles.json?from=&till=&interval=&start=` answers `{"candles": {"columns": ["open",
"close", "high", "low", "value", "volume", "begin", "end"], "data": [[...], ...]}}`, at
most a page (500 rows) at a time: `start` pages on until a page is empty. Times are Moscow
wall-clock, numbers plain JSON numbers (parsed as Decimal: exact). Intervals: 1, 10, 60
minutes, 24 (day), 7 (week), 31 (month), 4 (quarter).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from decimal import Decimal
from typing import Any

import httpx

from app.models.gaps import Gap
from app.workers.health import Retries, patiently
from app.workers.moex import normalize
from app.workers.moex.errors import MoexError, MoexJobInvalid

ISS_INTERVALS = {"M1": 1, "M10": 10, "H1": 60, "D1": 24, "W1": 7, "m1": 31, "Q1": 4}
ENGINES = {"MXSE": ("stock", "shares"), "MXCX": ("currency", "selt"), "FORTS": ("futures", "forts")}
"""Where a STOMP market's securities are in ISS (engine, market)."""
COLUMNS = {"begin": "FROM", "end": "TILL", "open": "OPEN", "close": "CLOSE", "high": "HIGH"}
COLUMNS |= {"low": "LOW", "value": "VALUE", "volume": "VOLUME"}


class IssUnavailable(MoexError):
    """ISS could not be reached or answered 5xx: try again later."""


class IssRejected(MoexError):
    """ISS answered 4xx: asking again will not help."""

    status_code = 502


class IssCandles:
    """The candles of a MOEX candle gap, a page at a time, as the stream's records."""

    def __init__(self, base_url: str, retries: Retries, give_up_seconds: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.retries, self.give_up_seconds = retries, give_up_seconds
        self.http = httpx.AsyncClient(timeout=10.0)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __call__(self, gap: Gap) -> AsyncGenerator[list[Any], None]:
        _, ticker, interval = gap["stream"].split("/")
        market, board, symbol = ticker.split(".")
        url = f"{self.base_url}/{_engine_path(market)}/boards/{board}/securities/{symbol}"
        params: dict[str, Any] = {
            "from": normalize.moscow_text(gap["from_ms"]),
            "till": normalize.moscow_text(gap["to_ms"]),
            "interval": ISS_INTERVALS[interval],
            "iss.meta": "off",
        }
        start = 0
        while rows := await self._page(f"{url}/candles.json", {**params, "start": start}):
            start += len(rows)
            yield [normalize.candle(symbol, interval, row, None) for row in rows]

    async def _page(self, url: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        return await patiently(
            lambda: self._get(url, params),
            what=f"GET {url}",
            retries=self.retries,
            on=IssUnavailable,
            give_up_seconds=self.give_up_seconds,
        )

    async def _get(self, url: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            response = await self.http.get(url, params=params)
        except httpx.HTTPError as error:
            raise IssUnavailable(f"{type(error).__name__}: {error}") from error
        if response.status_code >= 500:
            raise IssUnavailable(f"ISS answered {response.status_code}")
        if response.status_code >= 400:
            raise IssRejected(f"ISS answered {response.status_code}: {response.text[:200]}")
        return _rows(response.content)


def _engine_path(market: str) -> str:
    if market not in ENGINES:
        raise MoexJobInvalid(f"no ISS candles known for market {market}")
    engine, iss_market = ENGINES[market]
    return f"engines/{engine}/markets/{iss_market}"


def _rows(body: bytes) -> list[dict[str, Any]]:
    """The candle rows keyed as the STOMP stream names its columns (FROM, OPEN, ...)."""
    try:
        table = json.loads(body, parse_float=Decimal)["candles"]
        columns = [COLUMNS.get(name, name) for name in table["columns"]]
        return [dict(zip(columns, values, strict=True)) for values in table["data"]]
    except (ValueError, KeyError, TypeError) as error:
        raise IssUnavailable(f"ISS sent candles that do not read: {error}") from error
