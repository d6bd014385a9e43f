"""The monitor's link to the service: /ws/topic for live messages, REST for the queues'
documents (the running queues at each connect, and queues first met in telemetry), with
capped backoff and, while the service cannot be reached, the reason in words."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from app.aio import Backoff, background
from app.monitor.state import MonitorState, is_terminal
from app.retries import describe_error

LIST_LIMIT = 100
LINK_ERRORS = (OSError, TimeoutError, WebSocketException)


def topic_url(url: str, queue_ids: list[str]) -> str:
    """`http://host:8000` -> `ws://host:8000/ws/topic?queue_id=a&queue_id=b`."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme or "ws")
    path = parts.path.rstrip("/")
    path = path if path.endswith("/ws/topic") else path + "/ws/topic"
    query = "&".join(q for q in (parts.query, urlencode([("queue_id", q) for q in queue_ids])) if q)
    return urlunsplit((scheme, parts.netloc, path, query, ""))


def api_url(url: str) -> str:
    """`ws://host:8000/ws/topic?...` -> `http://host:8000`: where the REST API is."""
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme or "http")
    return urlunsplit((scheme, parts.netloc, parts.path.removesuffix("/ws/topic"), "", ""))


def describe(error: BaseException) -> str:
    """Why the service could not be reached, in words a user can act on."""
    if isinstance(error, WebSocketException):
        return _websocket_problem(error)
    if _refused(error):
        return "connection refused (no service listens there)"
    if isinstance(error, socket.gaierror):
        return f"unknown host ({error.strerror})"
    if isinstance(error, TimeoutError):
        return "no answer in time"
    return describe_error(error)


def _websocket_problem(error: WebSocketException) -> str:
    if isinstance(error, InvalidStatus):
        code = error.response.status_code
        hint = ": a token is needed (--token or API_TOKEN)" if code in (401, 403) else ""
        return f"the service refused the WebSocket with HTTP {code}{hint}"
    if isinstance(error, ConnectionClosed):
        close = error.rcvd
        return f"the connection closed ({close.code} {close.reason})" if close else "it dropped"
    return str(error)  # InvalidURI and the like say what is wrong


def _refused(error: BaseException) -> bool:
    if isinstance(error, ConnectionRefusedError):
        return True
    return isinstance(error, OSError) and (
        error.errno == errno.ECONNREFUSED or "Connect call failed" in str(error)
    )


@dataclass(frozen=True)
class MonitorOptions:
    refresh_seconds: float = 1.0
    backoff_initial: float = 0.5
    backoff_max: float = 10.0
    open_timeout: float = 10.0
    clock: Callable[[], float] = time.time


class Link:
    """One monitor's connection to one service."""

    def __init__(
        self, url: str, queue_ids: list[str], token: str | None, state: MonitorState
    ) -> None:
        self.url = topic_url(url, queue_ids)
        self.queue_ids = queue_ids
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.state = state
        state.url, state.queue_ids = self.url, frozenset(queue_ids)

    async def follow(self, options: MonitorOptions) -> None:
        """Connect, catch up over REST, read messages; on a failure say why and retry."""
        backoff = Backoff(options.backoff_initial, options.backoff_max)
        while True:
            try:
                async with connect(
                    self.url,
                    additional_headers=self.headers,
                    proxy=None,
                    open_timeout=options.open_timeout,
                ) as ws:
                    backoff.reset()
                    await self._session(ws, options)
                self.state.problem = "the service closed the connection"
            except LINK_ERRORS as error:
                self.state.problem = describe(error)
            self.state.connected = False
            self.state.reconnects += 1
            delay = backoff.next_delay()
            self.state.retry_at = options.clock() + delay
            await asyncio.sleep(delay)

    async def _session(self, ws: ClientConnection, options: MonitorOptions) -> None:
        self.state.connected, self.state.problem = True, None
        async with httpx.AsyncClient(
            base_url=api_url(self.url), headers=self.headers, timeout=10, trust_env=False
        ) as http:
            await self._catch_up(http)
            async with background(self._name_newcomers(http, options)):
                async for data in ws:
                    self._take(data, options)

    async def _catch_up(self, http: httpx.AsyncClient) -> None:
        """The queues as they are now: the chosen ones, or every running one."""
        try:
            if self.queue_ids:
                documents = [await self._document(http, q) for q in self.queue_ids]
            else:
                page = await http.get("/queues", params={"limit": LIST_LIMIT})
                page.raise_for_status()
                documents = [d for d in page.json()["data"] if not is_terminal(d["status"])]
        except (httpx.HTTPError, KeyError, ValueError) as error:
            self.state.note = f"could not read the queues: {describe_error(error)}"
            return
        self.state.note = None
        for document in documents:
            if document:
                self.state.take_document(document)

    async def _document(self, http: httpx.AsyncClient, queue_id: str) -> dict[str, Any] | None:
        response = await http.get(f"/queues/{queue_id}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        data: dict[str, Any] = response.json()["data"]
        return data

    async def _name_newcomers(self, http: httpx.AsyncClient, options: MonitorOptions) -> None:
        """A queue first met in telemetry is read once, so it is shown by its name."""
        tried: set[str] = set()
        while True:
            for queue_id in set(self.state.unnamed()) - tried:
                tried.add(queue_id)
                with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
                    if document := await self._document(http, queue_id):
                        self.state.take_document(document)
            await asyncio.sleep(options.refresh_seconds)

    def _take(self, data: str | bytes, options: MonitorOptions) -> None:
        try:
            message = orjson.loads(data)
        except orjson.JSONDecodeError:
            return  # a `?format=text` line or garbage: nothing to show
        if isinstance(message, dict):
            self.state.apply(message, options.clock())
