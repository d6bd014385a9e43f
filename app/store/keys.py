"""ArangoDB's documented rules for a document `_key`, in one place.

A key is 1 to 254 bytes of letters, digits and `_ - : . @ ( ) + , = ; $ ! * ' %`; nothing
else (no `~`, no `/`, no whitespace, no multi-byte UTF-8). The queue store and the
connector's keys are checked against it.
"""

from __future__ import annotations

import re

KEY_PUNCTUATION = "_-:.@()+,=;$!*'%"
MAX_KEY_BYTES = 254
_LEGAL = re.compile(r"[A-Za-z0-9" + re.escape(KEY_PUNCTUATION) + r"]{1,254}")


def is_legal_key(key: str) -> bool:
    return _LEGAL.fullmatch(key) is not None
