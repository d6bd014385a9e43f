"""Capped, jittered exponential backoff for reconnects.

Not stamina: stamina retries a call until it succeeds, while a stream session never
"succeeds"; it runs until it drops, and the delay must reset after each healthy session.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass
class Backoff:
    initial: float = 0.5
    cap: float = 30.0
    attempt: int = 0

    def next_delay(self) -> float:
        """Equal jitter: between half and all of min(cap, initial * 2**attempt)."""
        ceiling = min(self.cap, self.initial * 2 ** min(self.attempt, 32))
        self.attempt += 1
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0
