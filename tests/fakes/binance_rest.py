"""A local Binance REST server (aiohttp) with deterministic market data.

Spot (/api/v3) and USD-M futures (/fapi/v1): klines, aggTrades, depth, with the documented
limits and request weights (spot: klines 2, aggTrades 4, depth 5-250 by limit; futures:
klines 1-10 by limit, aggTrades 20, depth 2-20 by limit), each market counted apart per
calendar window, `X-MBX-USED-WEIGHT-1M` on every answer, and switchable 429/418
(Retry-After) and 5xx. With `enforce_limit`, a request over `weight_limit` in its window is
answered 429 with Retry-After (the rest of the window), and one sent before that wait is
over is banned: 418 with Retry-After `ban_s` (a refused request costs no weight here).
Every request is logged with its weight, status and times so tests can check waits and
the weight per window.
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
"""Spot weights (depth: at its largest limit); `weight_of` has the whole documented table."""
FUTURES_WEIGHTS = {"aggTrades": 20, "historicalTrades": 20}


def weight_of(name: str, params: dict[str, str], futures: bool) -> int:
    """The request weight Binance documents for this call."""
    limit = int(params.get("limit", 500 if futures or name == "klines" else 100))
    if name == "depth":
        table = ((50, 2), (100, 5), (500, 10), (1000, 20)) if futures else SPOT_DEPTH
        return next((w for bound, w in table if limit <= bound), table[-1][1])
    if name == "klines" and futures:
        return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10
    return (FUTURES_WEIGHTS if futures else WEIGHTS).get(name, 1)


SPOT_DEPTH = ((100, 5), (500, 25), (1000, 50), (5000, 250))


@dataclass
class Logged:
    at: float
    path: str
    params: dict[str, str]
    status: int
    weight: int = 0
    """The weight charged (0 for a refused request)."""
    wall: float = 0.0
    """time.time() when it arrived (Binance's windows are calendar minutes)."""

    @property
    def futures(self) -> bool:
        return self.path.startswith("/fapi")


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
    enforce_limit: bool = False
    ban_after: int = 3
    ban_s: float = 120.0
    violations: int = 0
    _used: dict[bool, tuple[int, int]] = field(default_factory=dict)
    """Per market (futures?): (window number, weight used in it)."""
    _limited_until: float = 0.0
    _banned_until: float = 0.0
    url: str = ""
    _runner: web.AppRunner | None = None

    def fail_next(self, status: int, times: int = 1, retry_after: float | None = None) -> None:
        """The next `times` requests answer `status` (429/418 with Retry-After, or 5xx)."""
        self.faults.extend([(status, retry_after)] * times)

    def requests_to(self, suffix: str) -> list[Logged]:
        return [entry for entry in self.log if entry.path.endswith(suffix)]

    def weight_by_window(self, futures: bool = False) -> dict[int, int]:
        """Weight served per calendar window (window number -> weight), as Binance counts."""
        totals: dict[int, int] = {}
        for entry in self.log:
            if entry.futures == futures and entry.weight:
                window = int(entry.wall // self.weight_window_s)
                totals[window] = totals.get(window, 0) + entry.weight
        return totals

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

    def _used_now(self, futures: bool, wall: float) -> int:
        window = int(wall // self.weight_window_s)
        current, used = self._used.get(futures, (window, 0))
        return used if current == window else 0

    def _charge(self, futures: bool, weight: int, wall: float) -> int:
        used = self._used_now(futures, wall) + weight
        self._used[futures] = (int(wall // self.weight_window_s), used)
        return used

    async def _handle(self, request: web.Request) -> web.Response:
        if self.hold_after is not None and len(self.log) >= self.hold_after:
            self.holding.set()
            await self.release.wait()
        params = dict(request.query)
        futures = request.path.startswith("/fapi")
        name = request.path.rsplit("/", 1)[1]
        wall, weight = time.time(), weight_of(name, params, futures)
        response = self._fault() or self._refusal(futures, weight, wall)
        if response is None:
            used = self._charge(futures, weight, wall)
            response = self._answer(name, params, futures)
        else:
            used, weight = self._used_now(futures, wall), 0
        response.headers["X-MBX-USED-WEIGHT-1M"] = str(used)
        self.log.append(
            Logged(time.monotonic(), request.path, params, response.status, weight, wall)
        )
        self.used_weights.append(used)
        self.requested.set()
        return response

    def _refusal(self, futures: bool, weight: int, wall: float) -> web.Response | None:
        """With `enforce_limit`: 429 for a request over the limit of its window or sent
        before a 429's wait is over; the `ban_after`-th such request in a row is banned
        (418, `ban_s`); 418 while the ban lasts."""
        if not self.enforce_limit:
            return None
        if wall < self._banned_until:
            return _limit_answer(418, self._banned_until - wall)
        ignored = wall < self._limited_until
        if not ignored and self._used_now(futures, wall) + weight <= self.weight_limit:
            self.violations = 0
            return None
        self.violations += 1
        if self.violations >= self.ban_after:
            self._banned_until = wall + self.ban_s
            return _limit_answer(418, self.ban_s)
        if not ignored:
            self._limited_until = (wall // self.weight_window_s + 1) * self.weight_window_s
        return _limit_answer(429, self._limited_until - wall)

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


def _limit_answer(status: int, retry_after: float) -> web.Response:
    message = "IP banned" if status == 418 else "Too much request weight used"
    headers = {"Retry-After": f"{retry_after:.3f}"}
    return _json({"code": -1003, "msg": message}, status, headers)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type="application/json"
    )
