"""Bearer tokens (API_TOKENS): required on mutating routes and /ws/topic when configured.

One dependency for HTTP routes and the WebSocket alike. The token comes from
`Authorization: Bearer <token>` (the scheme in any case); the WebSocket also takes it from
`?token=`, since browsers cannot set its headers, and only under that exact name. Tokens
are compared in constant time (hmac.compare_digest against every token, no early exit).
A refusal is 401 in the envelope, for the WebSocket as the answer to its handshake. Reads
stay open; health and metrics stay open for probes and scrapes unless
OPEN_METRICS_AND_HEALTH=false.
"""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import unquote_plus

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from app.api.deps import MetricsDep, SettingsDep
from app.errors import Unauthorized

bearer = HTTPBearer(auto_error=False, description="One of the API_TOKENS")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
QUERY_KEY = b"token"


def token_matches(given: str, tokens: list[str]) -> bool:
    """Constant time: every configured token is compared, whatever matched before."""
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(given.encode(), token.encode())
    return matched


def query_token(connection: HTTPConnection) -> str | None:
    """`?token=` under its real name only: `?tok%65n=` is not a token (nor redacted as one
    by a log reader that does not decode), so it is not accepted either."""
    for pair in connection.scope.get("query_string", b"").split(b"&"):
        key, _, value = pair.partition(b"=")
        if key == QUERY_KEY:
            return unquote_plus(value.decode("latin-1"))
    return None


def presented(
    connection: HTTPConnection, credentials: HTTPAuthorizationCredentials | None
) -> list[str]:
    """The tokens a client offers: the bearer header, and `?token=` on the WebSocket."""
    offered = [credentials.credentials] if credentials is not None else []
    if connection.scope["type"] == "websocket":
        offered.append(query_token(connection) or "")
    return [token for token in offered if token]


async def require_token(
    connection: HTTPConnection,
    settings: SettingsDep,
    metrics: MetricsDep,
    credentials: Credentials,
) -> None:
    tokens = settings.token_list
    if not tokens:
        return
    if any(token_matches(given, tokens) for given in presented(connection, credentials)):
        return
    route = getattr(connection.scope.get("route"), "path_format", connection.url.path)
    metrics.auth_failures.labels(route).inc()
    where = "or ?token=<token>" if connection.scope["type"] == "websocket" else ""
    raise Unauthorized(f"a valid token is required: Authorization: Bearer <token> {where}".strip())


async def require_token_for_open_routes(
    connection: HTTPConnection,
    settings: SettingsDep,
    metrics: MetricsDep,
    credentials: Credentials,
) -> None:
    """Health and metrics: open by default, behind the token when configured closed."""
    if not settings.open_metrics_and_health:
        await require_token(connection, settings, metrics, credentials)


Protected = [Depends(require_token)]
OpenByDefault = [Depends(require_token_for_open_routes)]
