"""`python -m app.workers TARGET`: run the job entrypoint registered for TARGET.

Entrypoints are imported lazily, so a job only loads the code (and libraries) it runs.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from app.models.catalog import Target
from app.workers.runtime import Entrypoint, run_job

ENTRYPOINTS = {
    Target.LOADER_PRODUCER: "app.workers.loader_producer:main",
    Target.ARANGO_CONNECTOR: "app.workers.arango_connector:main",
    "demo-job": "app.workers.demo:main",
}
USAGE = f"usage: python -m app.workers TARGET  (TARGET: {', '.join(sorted(ENTRYPOINTS))})"


class UnknownTarget(Exception):
    """The target is not registered, or its module or function is missing."""


def load_entrypoint(target: str) -> Entrypoint:
    """Import `module:function` for target, with one clear line when anything is missing."""
    if target not in ENTRYPOINTS:
        raise UnknownTarget(f"unknown target {target!r}")
    module_name, function_name = ENTRYPOINTS[target].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        raise UnknownTarget(f"target {target!r}: module {error.name} is not installed") from None
    entrypoint: Any = getattr(module, function_name, None)
    if not callable(entrypoint):
        raise UnknownTarget(f"target {target!r}: {module_name} has no {function_name}()")
    return entrypoint  # type: ignore[no-any-return]


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        print(USAGE, file=sys.stderr)
        sys.exit(2)
    try:
        entrypoint = load_entrypoint(argv[0])
    except UnknownTarget as error:
        print(f"{error}\n{USAGE}", file=sys.stderr)
        sys.exit(2)
    run_job(entrypoint)


if __name__ == "__main__":
    main(sys.argv[1:])
