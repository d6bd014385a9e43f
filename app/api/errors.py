"""One place renders every error as the envelope {status, message, data} with its code."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from app.errors import QueueManagerError
from app.models.catalog import Target
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


def envelope(status_code: int, message: str, data: Any = None) -> JsonResponse:
    return JsonResponse(
        {"status": "error", "message": message, "data": data}, status_code=status_code
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
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)


async def _our_error(request: Request, error: QueueManagerError) -> JsonResponse:
    if error.status_code >= 500:
        log.warning("request failed", path=request.url.path, error=error.message)
    return envelope(error.status_code, error.message, error.data)


async def _invalid(request: Request, error: RequestValidationError) -> JsonResponse:
    problems = field_problems(error.errors())
    summary = "; ".join(f"{p['field']}: {p['reason']}" for p in problems[:5])
    return envelope(422, f"invalid request: {summary}", problems)


async def _http_error(request: Request, error: HTTPException) -> JsonResponse:
    if isinstance(error.__cause__, QueueManagerError):  # ours, raised while the body was read
        return await _our_error(request, error.__cause__)
    return envelope(error.status_code, str(error.detail))


async def _unexpected(request: Request, error: Exception) -> JsonResponse:
    log.exception("unexpected error", path=request.url.path)
    return envelope(500, "internal error: see the service log")
