"""Secrets out of logs: values under secret-looking keys, and `password=...` in free text.

Applied to every record the service or a job logs (app/logging.py) and again to the lines
the logs endpoint reads back (app/log_text.py), which may predate it or bypass logging.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import unquote

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
    """`password=...`, `token: ...` and the like blanked in a free-form line, also when a
    URL spells the key `tok%65n=...`: a line whose decoded form names a secret is kept
    decoded and blanked."""
    decoded = _percent_decoded(text)
    if decoded != text and _SECRET_IN_TEXT.search(decoded):
        text = decoded
    return _SECRET_IN_TEXT.sub(r"\1\2***", text)


def _percent_decoded(text: str) -> str:
    """Decoded until it stops changing (a key encoded twice), at most a few rounds."""
    for _ in range(3):
        if "%" not in text:
            break
        text = unquote(text)
    return text
