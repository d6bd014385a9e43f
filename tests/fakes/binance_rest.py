"""A local Binance REST server (aiohttp) with deterministic market data.

Spot (/api/v3) and USD-M futures (/fapi/v1): klines, aggTrades, depth, with the documented
limits, `X-MBX-USED-WEIGHT-1M` on every answer, and switchable 429/418 (Retry-After) and 5xx.
Every request is logged with its monotonic time so tests can check waits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.binance_events import (
    INTERVAL_MS,
    LiveTape,
    agg_row,
    historical_row,
    kline_row,
)

__all__ = ["FakeBinanceRest", "LiveTape", "TradeTape", "kline_row"]

HOUR_MS = 3_600_000
WEIGHTS = {"klines": 2, "aggTrades": 4, "historicalTrades": 25, "depth": 250}


@dataclass
class Logged:
    at: float
    path: str
    params: dict[str, str]
    status: int


@dataclass
class TradeTape:
    """aggTrade `a` happens at origin + (a // per_ms) * gap_ms: several trades share a ms."""

    origin_ms: int = 1_717_200_000_000
    per_ms: int = 3
    gap_ms: int = 7

    def time_of(self, agg_id: int) -> int:
        return self.origin_ms + (agg_id // self.per_ms) * self.gap_ms

    def first_id_at(self, ms: int) -> int:
        steps = max(0, -(-(ms - self.origin_ms) // self.gap_ms))
        return steps * self.per_ms

    def trade_row(self, trade_id: int) -> dict[str, Any]:
        """The historicalTrades row of trade `trade_id` (one trade per aggregate here)."""
        agg = self.row(trade_id)
        return {
            "id": trade_id,
            "price": agg["p"],
            "qty": agg["q"],
            "quoteQty": "1.0",
            "time": agg["T"],
            "isBuyerMaker": agg["m"],
            "isBestMatch": True,
        }

    def row(self, agg_id: int) -> dict[str, Any]:
        price = f"{60000 + (agg_id * 37) % 1000}.{agg_id % 100:02d}"
        return {
            "a": agg_id,
            "p": price,
            "q": f"0.{(agg_id * 13) % 1000:03d}",
            "f": agg_id * 2,
            "l": agg_id * 2 + 1,
            "T": self.time_of(agg_id),
            "m": agg_id % 2 == 0,
            "M": True,
        }


@dataclass
class FakeBinanceRest:
    futures_agg_window_check: bool = True
    weight_limit: int = 6000
    weight_window_s: float = 60.0
    tape: TradeTape = field(default_factory=TradeTape)
    live: LiveTape | None = None
    """The live streams' trades (shared with the WS fake): served by id when a symbol has
    them; other symbols are served from the synthetic `tape`."""
    depth_source: Callable[[str, int], dict[str, Any]] | None = None
    log: list[Logged] = field(default_factory=list)
    faults: list[tuple[int, float | None]] = field(default_factory=list)
    used_weights: list[int] = field(default_factory=list)
    requested: asyncio.Event = field(default_factory=asyncio.Event)
    hold_after: int | None = None
    """Once this many requests were answered, the next ones wait for `release`: a loader
    can be caught between two pages (and killed there)."""
    holding: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    _used: int = 0
    _window: int = -1
    url: str = ""
    _runner: web.AppRunner | None = None

    def fail_next(self, status: int, times: int = 1, retry_after: float | None = None) -> None:
        """The next `times` requests answer `status` (429/418 with Retry-After, or 5xx)."""
        self.faults.extend([(status, retry_after)] * times)

    def requests_to(self, suffix: str) -> list[Logged]:
        return [entry for entry in self.log if entry.path.endswith(suffix)]

    async def start(self) -> str:
        app = web.Application()
        for prefix in ("/api/v3", "/fapi/v1"):
            for name in WEIGHTS:
                app.router.add_get(f"{prefix}/{name}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    def _charge(self, weight: int) -> int:
        window = int(time.time() // self.weight_window_s)
        if window != self._window:
            self._window, self._used = window, 0
        self._used += weight
        return self._used

    async def _handle(self, request: web.Request) -> web.Response:
        if self.hold_after is not None and len(self.log) >= self.hold_after:
            self.holding.set()
            await self.release.wait()
        params = dict(request.query)
        futures = request.path.startswith("/fapi")
        name = request.path.rsplit("/", 1)[1]
        used = self._charge(WEIGHTS[name])
        response = self._fault() or self._answer(name, params, futures)
        response.headers["X-MBX-USED-WEIGHT-1M"] = str(used)
        self.log.append(Logged(time.monotonic(), request.path, params, response.status))
        self.used_weights.append(used)
        self.requested.set()
        return response

    def _fault(self) -> web.Response | None:
        if not self.faults:
            return None
        status, retry_after = self.faults.pop(0)
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        body = {"code": -1003, "msg": "Too many requests"} if status in (429, 418) else {}
        return _json(body, status, headers)

    def _answer(self, name: str, params: dict[str, str], futures: bool) -> web.Response:
        try:
            if name == "klines":
                return _json(self._klines(params, futures))
            if name == "aggTrades":
                return _json(self._agg_trades(params, futures))
            if name == "historicalTrades":
                return _json(self._historical_trades(params))
            return _json(self._depth(params, futures))
        except BadRequest as error:
            return _json({"code": error.code, "msg": str(error)}, 400)

    def _klines(self, params: dict[str, str], futures: bool) -> list[list[Any]]:
        """Candles that have opened by now: none from the future."""
        limit = _limit(params, 500, 1500 if futures else 1000)
        step = INTERVAL_MS[params["interval"]]
        start = int(params.get("startTime", self.tape.origin_ms))
        end = min(int(params.get("endTime", start + step * limit)), int(time.time() * 1000))
        first = -(-start // step) * step
        last = min(end, first + step * (limit - 1))  # only the rows answered are built
        return [kline_row(t, step) for t in range(first, last + 1, step)]

    def _historical_trades(self, params: dict[str, str]) -> list[dict[str, Any]]:
        limit = _limit(params, 500, 1000)
        stream = f"{params['symbol'].lower()}@trade"
        from_id = int(params["fromId"]) if "fromId" in params else None
        if self.live is not None and self.live.has(stream):
            return [historical_row(e) for e in self.live.events(stream, from_id, limit)]
        if from_id is None:
            raise BadRequest(-1100, "this fake serves synthetic trades by fromId only")
        return [self.tape.trade_row(t) for t in range(from_id, from_id + limit)]

    def _agg_trades(self, params: dict[str, str], futures: bool) -> list[dict[str, Any]]:
        limit = _limit(params, 500, 1000)
        stream = f"{params['symbol'].lower()}@aggTrade"
        if self.live is not None and self.live.has(stream) and "fromId" in params:
            return [agg_row(e) for e in self.live.events(stream, int(params["fromId"]), limit)]
        if "fromId" in params:
            first = int(params["fromId"])
            return [self.tape.row(a) for a in range(first, first + limit)]
        start, end = int(params["startTime"]), int(params.get("endTime", 2**62))
        if "endTime" in params and end - start >= HOUR_MS:
            raise BadRequest(-1127, "More than 1 hours between startTime and endTime.")
        first = self.tape.first_id_at(start)
        rows = (self.tape.row(a) for a in range(first, first + limit))
        return [row for row in rows if row["T"] <= end]

    def _depth(self, params: dict[str, str], futures: bool) -> dict[str, Any]:
        limit = _limit(params, 100, 1000 if futures else 5000)
        if self.depth_source is None:
            raise BadRequest(-1121, "Invalid symbol.")
        return self.depth_source(params["symbol"].upper(), limit)


class BadRequest(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _limit(params: dict[str, str], default: int, maximum: int) -> int:
    limit = int(params.get("limit", default))
    if not 1 <= limit <= maximum:
        raise BadRequest(-1130, f"Illegal characters found in parameter 'limit'; max {maximum}.")
    return limit


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type="application/json"
    )
