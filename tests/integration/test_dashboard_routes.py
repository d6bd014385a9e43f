"""The dashboard's files come from the service itself: GET / and /static, no CDN."""

from __future__ import annotations

import json
import re
from typing import Any

from app.api.dashboard import STATIC_DIR
from app.api.vocabulary import vocabulary
from app.models.catalog import Exchange, Target, loader_type_error

GENERATED = {"catalog.js"}  # served by the service, not a file


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
            exists = (STATIC_DIR / module).is_file() or module in GENERATED
            assert exists, f"{path.name} imports missing {module}"


async def test_the_catalog_module_is_generated_from_the_models(app_with: Any) -> None:
    async with app_with() as qm:
        response = await qm.client.get("/static/catalog.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    body = response.text
    document = json.loads(body.split("Object.freeze(", 1)[1].rsplit(");", 1)[0])
    assert document == vocabulary()
    assert set(document["targets"]) == {target.value for target in Target}
    assert document["terminal_statuses"] == ["finished", "stopped", "error", "skipped"]
    graph = document["targets"]["graph-builder"]
    assert [(f["name"], f["kind"], f["required"]) for f in graph["fields"]] == [
        ("collection_inputs", "list", True),
        ("collection_output", "text", True),
    ]
    limit, *_ = document["request"]["retry"]["fields"]
    assert (limit["name"], limit["min"], limit["max"], limit["default"]) == ("limit", 0, 100, 3)
    assert document["request"]["depends_on"]["max_items"] == 20
    for exchange, types in document["targets"]["loader-producer"]["types"].items():
        assert all(loader_type_error(Exchange(exchange), t) is None for t in types), exchange


def test_the_front_end_keeps_no_copy_of_the_vocabulary() -> None:
    """Targets, their fields and job types, and the terminal statuses come from catalog.js."""
    words = {target.value for target in Target} | {"finished", "stopped", "collection_inputs"}
    words |= {"api_candles_5m", "graph_metrics_stream", "binance-futures"}
    for path in STATIC_DIR.glob("*.js"):
        quoted = set(re.findall(r'"([\w-]+)"', path.read_text()))
        assert not quoted & words, f"{path.name} repeats {quoted & words}"
