"""WS /ws/topic: every queue change and telemetry update, live (seed 002, seed 004 rooms).

Follow chosen queues with `?queue_id=` (repeatable) or a message
{"action": "subscribe" | "unsubscribe", "queue_ids": [...]}; otherwise everything.
`?format=text` sends the seed's human-readable lines instead of JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field, StringConstraints, ValidationError

from app.api.auth import Protected
from app.api.deps import HubDep, MetricsDep, SettingsDep
from app.control.hub import TRY_AGAIN_LATER, Client, Hub
from app.ws_protocol import SEND_NOW_EXTENSION

router = APIRouter()
MAX_FOLLOWED = 1000
"""Queues one client may follow in all, whatever the number of messages it took."""
MAX_MESSAGE_BYTES = 16_384
MESSAGES_PER_SECOND = 20
POLICY_VIOLATION = 1008
QueueId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class Subscription(BaseModel):
    action: str = Field(pattern="^(subscribe|unsubscribe)$")
    queue_ids: list[QueueId] = Field(max_length=MAX_FOLLOWED)


@router.websocket("/ws/topic", dependencies=Protected)
async def topic(
    websocket: WebSocket,
    hub: HubDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    queue_id: Annotated[list[QueueId] | None, Query(max_length=MAX_FOLLOWED)] = None,
    format: Annotated[str, Query(pattern="^(json|text)$")] = "json",
) -> None:
    """A missing or wrong token is refused by `Protected` before this runs: the handshake
    is answered 401 with the envelope."""
    await websocket.accept()
    client = Client(
        websocket.send_text,
        settings.ws_client_queue_size,
        text_format=format == "text",
        queue_ids=set(queue_id) if queue_id else None,
    )
    await welcome(hub, client, _hello(client, settings.ws_heartbeat_seconds))
    client.send_now = websocket.scope.get("extensions", {}).get(SEND_NOW_EXTENSION)
    metrics.ws_clients.inc()
    try:
        await _serve(websocket, hub, client)
    finally:
        hub.leave(client)  # the pump leaves too, unless it was cancelled before it ran
        metrics.ws_clients.dec()


async def welcome(hub: Hub, client: Client, hello: str) -> None:
    """Join the hub, then say hello: whatever is published while the hello is on its way
    waits in the client's outbox for the pump, rather than being missed."""
    hub.join(client)
    try:
        await client.send(hello)
    except BaseException:
        hub.leave(client)
        raise


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
    """One subscription change; the answer names what changed, never the whole set."""
    try:
        change = Subscription.model_validate_json(text)
    except ValidationError as error:
        return _error(f"bad subscription: {error.errors()[0]['msg']}")
    if change.action == "unsubscribe":
        removed = client.unsubscribe(change.queue_ids)
        return _answer("unsubscribed", "removed", removed, client)
    following = len(client.queue_ids or ())
    new = [q for q in dict.fromkeys(change.queue_ids) if q not in (client.queue_ids or ())]
    if following + len(new) > MAX_FOLLOWED:
        return _error(
            f"a client follows at most {MAX_FOLLOWED} queues: it follows {following}, "
            f"this adds {len(new)}; unsubscribe some first"
        )
    return _answer("subscribed", "added", client.subscribe(new), client)


def _answer(event: str, key: str, changed: list[str], client: Client) -> str:
    following = len(client.queue_ids) if client.queue_ids is not None else None
    return orjson.dumps({"event": event, key: changed, "following": following}).decode()


def _error(message: str) -> str:
    return orjson.dumps({"event": "error", "message": message}).decode()


def _hello(client: Client, heartbeat_seconds: float) -> str:
    if client.text_format:
        return "✅ WebSocket connected"
    ids = sorted(client.queue_ids) if client.queue_ids is not None else None
    return orjson.dumps(
        {"event": "hello", "queue_ids": ids, "heartbeat_seconds": heartbeat_seconds}
    ).decode()
