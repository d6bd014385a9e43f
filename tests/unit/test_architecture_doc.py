"""docs/architecture.md stays true: its map of app/ names every module, and only those.

The map is the code block under "## Parts". A line whose first word ends with `/` opens
that directory (nested by indentation); one whose first word is `name.py` is a module of
the directory around it. Every `name.py` on an entry line or on the continuation lines
below it belongs to that directory, so a directory line may list its modules in a row.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
PARTS = re.compile(r"^## Parts\n.*?^```\n(.*?)^```", re.S | re.M)
ENTRY = re.compile(r"^( *)([\w.]+(?:/|\.py))(?:\s|$)")
MODULE = re.compile(r"(?<![\w/.])(\w+\.py)\b")


def documented_modules(text: str) -> set[str]:
    """Paths (like `app/control/outbox.py`) of the modules the map names."""
    found = PARTS.search(text)
    assert found, "docs/architecture.md has no code block under '## Parts'"
    opened: list[tuple[int, str]] = []
    here = ""
    modules: set[str] = set()
    for line in found.group(1).splitlines():
        entry = ENTRY.match(line)
        if entry:
            indent, word = len(entry.group(1)), entry.group(2)
            while opened and opened[-1][0] >= indent:
                opened.pop()
            here = opened[-1][1] if opened else ""
            if word.endswith("/"):
                here += word
                opened.append((indent, here))
        modules.update(here + name for name in MODULE.findall(line))
    return modules


def actual_modules() -> set[str]:
    return {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "app").rglob("*.py")
        if path.name != "__init__.py"
    }


def test_the_map_names_every_module_of_app() -> None:
    missing = sorted(actual_modules() - documented_modules(DOC.read_text()))
    assert not missing, f"add these to '## Parts' in docs/architecture.md: {missing}"


def test_the_map_names_no_module_that_does_not_exist() -> None:
    stale = sorted(documented_modules(DOC.read_text()) - actual_modules())
    assert not stale, f"remove (or fix) these in '## Parts' of docs/architecture.md: {stale}"


def test_the_reader_understands_rows_nesting_and_continuations() -> None:
    text = "## Parts\n```\napp/\n  a.py   x\n  pkg/   b.py, c.py,\n         d.py\n    e.py\n"
    text += "  f.py   see app/g.py\n```\n"
    expected = {"app/a.py", "app/pkg/b.py", "app/pkg/c.py", "app/pkg/d.py", "app/pkg/e.py"}
    assert documented_modules(text) == expected | {"app/f.py"}
