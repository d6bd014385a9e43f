"""WS /ws/topic: every queue change and telemetry update, live (seed 002, seed 004 rooms).

Follow chosen queues with `?queue_id=` (repeatable) or a message
{"action": "subscribe" | "unsubscribe", "queue_ids": [...]}; otherwise everything.
`?format=text` sends the seed's human-readable lines instead of JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field, ValidationError

from app.api.auth import websocket_allowed
from app.control.hub import TRY_AGAIN_LATER, Client, Hub
from app.state import AppState

router = APIRouter()
MAX_FOLLOWED = 1000
MAX_MESSAGE_BYTES = 16_384
MESSAGES_PER_SECOND = 20
POLICY_VIOLATION = 1008


class Subscription(BaseModel):
    action: str = Field(pattern="^(subscribe|unsubscribe)$")
    queue_ids: list[str] = Field(max_length=MAX_FOLLOWED)


@router.websocket("/ws/topic")
async def topic(
    websocket: WebSocket,
    queue_id: list[str] | None = Query(default=None, max_length=MAX_FOLLOWED),  # noqa: B008
    format: str = Query(default="json", pattern="^(json|text)$"),
) -> None:
    state: AppState = websocket.app.state.services
    hub = state.plane.hub
    if not websocket_allowed(websocket, state):
        await websocket.close(POLICY_VIOLATION, "a valid token is required: ?token=<token>")
        return
    await websocket.accept()
    client = Client(
        websocket.send_text,
        state.settings.ws_client_queue_size,
        text_format=format == "text",
        queue_ids=set(queue_id) if queue_id else None,
    )
    await websocket.send_text(_hello(client, state.settings.ws_heartbeat_seconds))
    state.metrics.ws_clients.inc()
    try:
        await _serve(websocket, hub, client)
    finally:
        state.metrics.ws_clients.dec()


async def _serve(websocket: WebSocket, hub: Hub, client: Client) -> None:
    pump = asyncio.create_task(hub.serve(client), name="ws-pump")
    listen = asyncio.create_task(_listen(websocket, client), name="ws-listen")
    done, pending = await asyncio.wait({pump, listen}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    if pump in done and not pump.cancelled():
        if pump.exception() is not None:
            raise pump.exception()  # type: ignore[misc]
        with contextlib.suppress(Exception):
            await asyncio.wait_for(websocket.close(TRY_AGAIN_LATER, "too slow: reconnect"), 2)
    elif listen in done and isinstance(listen.exception(), _Violation):
        with contextlib.suppress(Exception):
            await websocket.close(POLICY_VIOLATION, str(listen.exception()))


class _Violation(Exception):
    """The client broke the message size or rate limit."""


async def _listen(websocket: WebSocket, client: Client) -> None:
    """Subscription changes from the client; size and rate limited."""
    window_start, count = asyncio.get_running_loop().time(), 0
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            text = await _receive(websocket)
            now = asyncio.get_running_loop().time()
            if now - window_start >= 1:
                window_start, count = now, 0
            count += 1
            if count > MESSAGES_PER_SECOND or len(text) > MAX_MESSAGE_BYTES:
                raise _Violation("message too large or too frequent")
            await websocket.send_text(_apply(client, text))


async def _receive(websocket: WebSocket) -> str:
    """Text or binary frames alike (some clients send JSON as binary)."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    if message.get("text") is not None:
        return str(message["text"])
    return bytes(message.get("bytes") or b"").decode("utf-8", errors="replace")


def _apply(client: Client, text: str) -> str:
    try:
        change = Subscription.model_validate_json(text)
    except ValidationError as error:
        reason = error.errors()[0]["msg"]
        return orjson.dumps({"event": "error", "message": f"bad subscription: {reason}"}).decode()
    followed = client.queue_ids if client.queue_ids is not None else set()
    if change.action == "subscribe":
        client.follow(followed | set(change.queue_ids))
    else:
        client.follow((followed - set(change.queue_ids)) or None)
    return _subscribed(client)


def _subscribed(client: Client) -> str:
    ids: Any = sorted(client.queue_ids) if client.queue_ids is not None else None
    return orjson.dumps({"event": "subscribed", "queue_ids": ids}).decode()


def _hello(client: Client, heartbeat_seconds: float) -> str:
    if client.text_format:
        return "✅ WebSocket connected"
    ids = sorted(client.queue_ids) if client.queue_ids is not None else None
    return orjson.dumps(
        {"event": "hello", "queue_ids": ids, "heartbeat_seconds": heartbeat_seconds}
    ).decode()
