"""Bearer tokens (API_TOKENS): required on mutating routes and /ws/topic when configured.

Tokens are compared in constant time (hmac.compare_digest against every token, no early
exit). Reads (GET /queues…) and the dashboard stay open; health and metrics stay open for
probes and scrapes unless OPEN_METRICS_AND_HEALTH=false.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request, WebSocket
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.errors import Unauthorized
from app.state import AppState

bearer = HTTPBearer(auto_error=False, description="One of the API_TOKENS")


def token_matches(given: str, tokens: list[str]) -> bool:
    """Constant time: every configured token is compared, whatever matched before."""
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(given.encode(), token.encode())
    return matched


async def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    state: AppState = request.app.state.services
    tokens = state.settings.token_list
    if not tokens:
        return
    if credentials is None or not token_matches(credentials.credentials, tokens):
        route = getattr(request.scope.get("route"), "path", request.url.path)
        state.metrics.auth_failures.labels(route).inc()
        raise Unauthorized("a valid bearer token is required: Authorization: Bearer <token>")


def websocket_allowed(websocket: WebSocket, state: AppState) -> bool:
    """Browsers cannot set headers on a WebSocket: accept `?token=` as well."""
    tokens = state.settings.token_list
    if not tokens:
        return True
    header = websocket.headers.get("authorization", "")
    given = header.removeprefix("Bearer ").strip() or websocket.query_params.get("token", "")
    if given and token_matches(given, tokens):
        return True
    state.metrics.auth_failures.labels("/ws/topic").inc()
    return False


async def require_token_for_open_routes(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """Health and metrics: open by default, behind the token when configured closed."""
    state: AppState = request.app.state.services
    if not state.settings.open_metrics_and_health:
        await require_token(request, credentials)


Protected = [Depends(require_token)]
OpenByDefault = [Depends(require_token_for_open_routes)]
