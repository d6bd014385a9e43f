"""The live dashboard: GET / serves index.html; its scripts and styles live under /static,
beside /static/catalog.js, the vocabulary generated from the models (app/api/vocabulary.py)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

from app.api.vocabulary import catalog_module

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
# Everything comes from this origin: no CDN, no inline script, sockets back to this host.
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

router = APIRouter(tags=["dashboard"])


@router.get("/", include_in_schema=False)
async def dashboard() -> FileResponse:
    headers = {"Content-Security-Policy": POLICY, "Cache-Control": "no-cache"}
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=headers)


@router.get("/static/catalog.js", include_in_schema=False)
async def catalog() -> Response:
    """Routed before the /static mount: there is no such file, the models are the source."""
    return Response(
        catalog_module(), media_type="text/javascript", headers={"Cache-Control": "no-cache"}
    )


def static_files() -> StaticFiles:
    """The package's static directory, mounted by create_app under /static."""
    return StaticFiles(directory=STATIC_DIR)
