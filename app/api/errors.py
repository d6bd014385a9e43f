"""One place renders every error as the envelope {status, message, data} with its code."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError, WebSocketRequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Match

from app.errors import QueueManagerError
from app.models.catalog import Target
from app.models.envelope import ErrorEnvelope
from app.models.problems import FieldProblem

log = structlog.get_logger(__name__)


class JsonResponse(JSONResponse):
    """orjson rendering (datetimes, speed); FastAPI's ORJSONResponse is deprecated."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


_LOCATIONS = {"body", "query", "path", "header", "cookie"}
_TAGS = {target.value for target in Target}
_TAG_ERRORS = {"union_tag_invalid", "union_tag_not_found"}
_REASONS = {"extra_forbidden": "unknown field", "missing": "required"}


ERROR_DOCS = {
    400: "the body is not JSON: the message says where it breaks",
    401: "missing or wrong bearer token (only when API_TOKENS is set)",
    404: "unknown queue or job",
    409: "the queue already ended by itself, or changed concurrently (retry)",
    413: "request body over MAX_BODY_BYTES",
    415: "the body is not application/json",
    422: "invalid input: names the field and the reason",
    503: "a dependency (store, broker, job platform) is down",
}


def documented(
    *codes: int, texts: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """The error answers a route can give, for its OpenAPI `responses`; `texts` says what
    a code means on this route where the common words do not fit (a schedule's 404)."""
    words = {**ERROR_DOCS, **(texts or {})}
    return {code: {"model": ErrorEnvelope, "description": words[code]} for code in codes}


def envelope(
    status_code: int, message: str, data: Any = None, headers: Mapping[str, str] | None = None
) -> JsonResponse:
    return JsonResponse(
        {"status": "error", "message": message, "data": data},
        status_code=status_code,
        headers=headers,
    )


def field_problems(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Pydantic errors as [{"field": "requests[2].type", "reason": "..."}]."""
    return [_problem(error) for error in errors]


def _problem(error: dict[str, Any]) -> dict[str, str]:
    path = _path(error.get("loc", ()))
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, FieldProblem):
        return {"field": _join(path, cause.path), "reason": cause.reason}
    if error.get("type") in _TAG_ERRORS:
        return {"field": _join(path, "target"), "reason": _tag_reason(error)}
    reason = _REASONS.get(error.get("type", ""), error.get("msg", "invalid"))
    return {"field": path or "body", "reason": reason.removeprefix("Value error, ")}


def _tag_reason(error: dict[str, Any]) -> str:
    given = (error.get("ctx") or {}).get("tag")
    known = ", ".join(sorted(_TAGS))
    return f"unknown target {given!r}; known targets: {known}" if given else f"required ({known})"


def _path(loc: Sequence[Any]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part not in _LOCATIONS and part not in _TAGS:
            text += f".{part}" if text else str(part)
    return text


def _join(prefix: str, path: str) -> str:
    if not prefix:
        return path
    return f"{prefix}{path}" if path.startswith("[") else f"{prefix}.{path}"


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(QueueManagerError, _our_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    app.add_exception_handler(WebSocketRequestValidationError, _invalid)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)


async def _our_error(request: Request, error: QueueManagerError) -> JsonResponse:
    if error.status_code >= 500:
        log.warning("request failed", path=request.url.path, error=error.message)
    return envelope(error.status_code, error.message, error.data)


async def _invalid(
    request: Request, error: RequestValidationError | WebSocketRequestValidationError
) -> JsonResponse:
    """422 naming the fields; for the WebSocket, as the answer to its handshake."""
    first = error.errors()[0] if error.errors() else {}
    if first.get("type") == "json_invalid":
        return _not_json(first, getattr(error, "body", None))
    problems = field_problems(error.errors())
    summary = "; ".join(f"{p['field']}: {p['reason']}" for p in problems[:5])
    return envelope(422, f"invalid request: {summary}", problems)


def _not_json(problem: dict[str, Any], document: Any) -> JsonResponse:
    """FastAPI's "JSON decode error" at a character index, as a line and column in words."""
    position = problem["loc"][-1]
    text = document if isinstance(document, str) else ""
    line = text.count("\n", 0, position) + 1
    column = position - text.rfind("\n", 0, position)
    cause = (problem.get("ctx") or {}).get("error", "JSON decode error")
    reason = f"{cause} at line {line}, column {column} (character {position + 1})"
    return envelope(
        400, f"the body is not valid JSON: {reason}", [{"field": "body", "reason": reason}]
    )


async def _http_error(request: Request, error: HTTPException) -> Response:
    if isinstance(error.__cause__, QueueManagerError):  # ours, raised while the body was read
        return await _our_error(request, error.__cause__)
    where = f"{request.method} {request.url.path}"
    if error.status_code == 405:
        allowed = (error.headers or {}).get("Allow", "")
        return envelope(405, f"{where} is not allowed; allowed: {allowed}", headers=error.headers)
    if error.status_code == 404:
        twin = _route_without_slash(request)
        if twin is not None:
            return RedirectResponse(twin, status_code=307)
        return envelope(404, f"nothing at {where}")
    return envelope(error.status_code, str(error.detail), headers=error.headers)


def _route_without_slash(request: Request) -> str | None:
    """`/queues/` -> `/queues`, as a relative URL: an absolute one would be built from the
    client's Host header (Starlette's redirect_slashes did that)."""
    path: str = request.scope["path"]
    twin = path[:-1]
    if not path.endswith("/") or not twin or twin.startswith("//"):
        return None
    scope = {**request.scope, "path": twin}
    if all(route.matches(scope)[0] is Match.NONE for route in request.app.router.routes):
        return None
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"{twin}?{query}" if query else twin


async def _unexpected(request: Request, error: Exception) -> JsonResponse:
    log.exception("unexpected error", path=request.url.path)
    return envelope(500, "internal error: see the service log")
