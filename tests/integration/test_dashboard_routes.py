"""The dashboard's files come from the service itself: GET / and /static, no CDN."""

from __future__ import annotations

import re
from typing import Any

from app.api.dashboard import STATIC_DIR


async def test_root_serves_the_dashboard_with_a_same_origin_policy(app_with: Any) -> None:
    async with app_with() as qm:
        response = await qm.client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/static/app.js">' in response.text
    assert "default-src 'self'" in response.headers["content-security-policy"]


async def test_static_modules_are_served_as_javascript(app_with: Any) -> None:
    async with app_with() as qm:
        for name in ("app.js", "live.js", "style.css"):
            response = await qm.client.get(f"/static/{name}")
            assert response.status_code == 200, name
        script = await qm.client.get("/static/app.js")
    assert "javascript" in script.headers["content-type"]


def test_every_imported_module_exists_and_nothing_is_fetched_from_elsewhere() -> None:
    for path in [*STATIC_DIR.glob("*.js"), *STATIC_DIR.glob("*.html"), *STATIC_DIR.glob("*.css")]:
        text = path.read_text()
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), path.name
        for module in re.findall(r'from "\./([\w.]+)"', text):
            assert (STATIC_DIR / module).is_file(), f"{path.name} imports missing {module}"
