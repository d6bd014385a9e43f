"""Bodies must be JSON: the one check every route with a body shares."""

from __future__ import annotations

from fastapi import Depends, Request

from app.errors import UnsupportedMediaType


async def require_json(request: Request) -> None:
    """A form or text body would fail as "Input should be a valid dictionary": say what
    is expected instead. No body at all is left to validation ("body: required")."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    ):
        return
    if await request.body():
        sent = media or "no content type"
        raise UnsupportedMediaType(f"the body must be application/json, not {sent}")


JsonBody = Depends(require_json)
"""Route dependency: `dependencies=[*Protected, JsonBody]`."""
