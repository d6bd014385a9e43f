"""`python -m app.workers TARGET`: run the job entrypoint registered for TARGET.

Entrypoints are imported lazily, so a job only loads the code (and libraries) it runs.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings

from app.models.catalog import Target
from app.workers.base import JobEnv
from app.workers.runtime import Entrypoint, RuntimeOptions, run_job

ENTRYPOINTS = {
    Target.LOADER_PRODUCER: "app.workers.loader_producer:main",
    Target.ARANGO_CONNECTOR: "app.workers.arango_connector:main",
    "demo-job": "app.workers.demo:main",
}
USAGE = (
    f"usage: python -m app.workers TARGET  (TARGET: {', '.join(sorted(ENTRYPOINTS))})\n"
    "       python -m app.workers --help"
)


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


def help_text() -> str:
    """Usage, then every variable a job reads: the job contract, then the runtime's bounds."""
    sections: list[tuple[str, type[BaseSettings]]] = [
        ("Environment (set by the queue-manager, the job environment contract):", JobEnv),
        ("Runtime bounds:", RuntimeOptions),
    ]
    lines = [USAGE]
    for title, model in sections:
        lines += ["", title, *variables(model)]
    return "\n".join(lines)


def variables(model: type[BaseSettings]) -> list[str]:
    """One line per variable: NAME, what it is, its default (never a secret's value)."""
    lines = []
    for name, field in model.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if field.is_required():
            shown = "required"
        elif isinstance(default, SecretStr) or "PASSWORD" in name.upper():
            shown = "secret"
        else:
            shown = f"default {default}" if default not in (None, "") else "optional"
        about = f"{field.description}; " if field.description else ""
        lines.append(f"  {name.upper():<32} {about}{shown}")
    return lines


def main(argv: list[str]) -> None:
    if argv in (["--help"], ["-h"]):
        print(help_text())
        sys.exit(0)
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
