"""Loader failures, wrapping httpx and websockets errors in our own hierarchy."""

from __future__ import annotations

from app.errors import DependencyUnavailable, QueueManagerError


class BinanceError(DependencyUnavailable):
    default_message = "Binance is unavailable"


class RateLimited(BinanceError):
    """429 (back off) or 418 (IP banned): wait `retry_after` seconds before asking again."""

    def __init__(self, status: int, retry_after: float) -> None:
        what = "IP banned" if status == 418 else "too many requests"
        super().__init__(
            f"Binance answered {status} ({what}); every request waits {retry_after:g} s "
            "as Retry-After asks"
        )
        self.status = status
        self.retry_after = retry_after


class ServerError(BinanceError):
    """5xx or a transport failure: the outcome is unknown, an idempotent read may be retried."""


class RequestRejected(QueueManagerError):
    """4xx other than 429/418: our request is wrong; retrying will not help."""

    status_code = 502
    default_message = "Binance rejected the request"


class StreamSilent(BinanceError):
    """A subscribed stream sent nothing for too long (e.g. an unrouted futures path)."""


class StreamProtocolError(BinanceError):
    """The server answered a control message with an error or sent something unreadable."""
