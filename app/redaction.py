"""Secrets out of logs: values under secret-looking keys, and `password=...` in free text.

Applied to every record the service or a job logs (app/logging.py) and again to the lines
the logs endpoint reads back (app/log_text.py), which may predate it or bypass logging.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

_SECRET_KEY = re.compile(r"(pass(word|code)?|secret|token|authorization|credential)", re.I)
_SECRET_IN_TEXT = re.compile(
    r"(?i)(password|passcode|token|secret|authorization)(\s*[=:]\s*|\"\s*:\s*\")([^\s\",&]+)"
)


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor: blank secret-looking keys and secrets inside strings."""
    for key, value in list(event.items()):
        if _SECRET_KEY.search(key):
            event[key] = "***"
        elif isinstance(value, str):
            event[key] = redact_text(value)
    return event


def redact_text(text: str) -> str:
    """`password=...`, `token: ...` and the like blanked in a free-form line."""
    return _SECRET_IN_TEXT.sub(r"\1\2***", text)
