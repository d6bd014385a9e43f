"""ASGI middleware: request metrics by route template, and a request body size limit."""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import envelope
from app.errors import PayloadTooLarge
from app.metrics import Metrics


class MetricsMiddleware:
    """http_requests_total and http_request_duration_seconds by method, route, status.
    The route is the template (`/queues/{queue_id}`), so ids never explode cardinality."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        """Label children by (method, route, status): `labels()` costs a lock per call."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 500}
        started = time.perf_counter()

        async def remember_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, remember_status)
        finally:
            self._observe(scope, status["code"], time.perf_counter() - started)

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        route: Any = scope.get("route")
        labels = (scope["method"], getattr(route, "path_format", "unmatched"), str(status))
        children = self._children.get(labels)
        if children is None:
            children = (
                self.metrics.http_requests.labels(*labels),
                self.metrics.http_duration.labels(*labels),
            )
            self._children[labels] = children
        children[0].inc()
        children[1].observe(seconds)


class BodyLimitMiddleware:
    """Refuse bodies over the limit with 413 before they are read into memory."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        await self.app(scope, self._counting(receive), send)

    def _counting(self, receive: Receive) -> Receive:
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise PayloadTooLarge(f"request body over {self.max_bytes} bytes")
            return message

        return counted

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = envelope(413, f"request body over {self.max_bytes} bytes")
        await response(scope, receive, send)
