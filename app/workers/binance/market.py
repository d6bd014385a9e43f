"""Spot versus USD-M futures: endpoints and limits that differ (protocols/binance.md)."""

from __future__ import annotations

from dataclasses import dataclass

from app.errors import InvalidInput
from app.workers.base import JobEnv

FUTURES_PUBLIC_STREAMS = ("bookTicker", "depth")


@dataclass(frozen=True, slots=True)
class Market:
    exchange: str
    futures: bool
    rest_url: str
    ws_url: str

    @property
    def api_prefix(self) -> str:
        return "/fapi/v1" if self.futures else "/api/v3"

    @property
    def klines_limit(self) -> int:
        return 1500 if self.futures else 1000

    @property
    def agg_trades_limit(self) -> int:
        return 1000

    @property
    def depth_limit(self) -> int:
        return 1000 if self.futures else 5000

    @property
    def streams_per_connection(self) -> int:
        return 200 if self.futures else 1024

    @property
    def messages_per_second(self) -> float:
        """Our pace for control messages: under the 5/s (spot) or 10/s (futures) limit."""
        return 8.0 if self.futures else 4.0

    def ws_route(self, stream: str) -> str:
        """Futures streams are routed by category since 2026-04; spot has one route."""
        if not self.futures:
            return ""
        kind = stream.split("@", 1)[1] if "@" in stream else stream
        return "/public" if kind.startswith(FUTURES_PUBLIC_STREAMS) else "/market"


def market_of(env: JobEnv) -> Market:
    """The market named by the job's exchange, with URLs from its settings."""
    if env.exchange == "binance":
        return Market("binance", False, env.binance_rest_url, env.binance_ws_url)
    if env.exchange == "binance-futures":
        return Market(
            "binance-futures", True, env.binance_futures_rest_url, env.binance_futures_ws_url
        )
    raise InvalidInput(f"not a Binance exchange: {env.exchange}")
