"""The dashboard's own modules under `node --test` (tests/js/*.test.mjs), against the static
files as served, with /static/catalog.js as the service generates it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from app.api.dashboard import STATIC_DIR
from app.api.vocabulary import catalog_module
from tests.needs import unavailable

JS_TESTS = Path(__file__).resolve().parents[1] / "js"


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """static/ (with catalog.js and ES-module package.json) beside js/, as the tests import."""
    root = tmp_path_factory.mktemp("dashboard")
    shutil.copytree(STATIC_DIR, root / "static")
    (root / "static" / "catalog.js").write_bytes(catalog_module())
    (root / "static" / "package.json").write_text('{"type": "module"}\n')
    shutil.copytree(JS_TESTS, root / "js")
    return root


@pytest.mark.parametrize("name", sorted(p.name for p in JS_TESTS.glob("*.test.mjs")))
def test_dashboard_module(tree: Path, name: str) -> None:
    node = shutil.which("node")
    if node is None:
        unavailable("needs Node.js (node 20) for the dashboard's unit tests")
    result = subprocess.run(  # noqa: PLW1510 (the exit code is what is checked)
        [node, "--test", str(tree / "js" / name)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout and "# pass 0" not in result.stdout
