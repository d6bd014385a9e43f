"""How uvicorn serves the app: one set of options for `queue-manager serve` and the tests."""

from __future__ import annotations

from typing import Any

from app.config import Settings
from app.http_limits import HeadLimits, limited_http
from app.metrics import Metrics
from app.ws_protocol import AnsweringWebSocketProtocol

WS_MAX_MESSAGE_BYTES = 65_536
"""Frames above this close the socket (1009) before our own 16 KiB message check reads them."""


def server_options(settings: Settings, metrics: Metrics) -> dict[str, Any]:
    """uvicorn keyword arguments: our head limits, the WebSocket fix, no log config (ours)."""
    refused = metrics.http_refused
    return {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "http": limited_http(HeadLimits.from_settings(settings), lambda r: refused.labels(r).inc()),
        "ws": AnsweringWebSocketProtocol,
        "ws_max_size": WS_MAX_MESSAGE_BYTES,
    }
