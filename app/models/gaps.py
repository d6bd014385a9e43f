"""A gap: records a stream job knows it missed, with their bounds (docs/architecture.md,
"Gaps in streams").

One TypedDict read by both msgspec (the telemetry wire format, validated with the bounds
below) and pydantic (the stored JobState and the REST answers), so the shape is written once.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta
from typing_extensions import TypedDict

INT64_MAX = 2**63 - 1
"""Integers from jobs are bounded to what the store and every JSON encoder on the way hold."""
MAX_GAPS_REPORTED = 50
"""A report lists at most this many gaps (the open ones first); the counters count all."""

GapKey = Literal["trade_id", "agg_id", "open_time"]
"""What orders the stream: trade ids (`t`), aggregate ids (`a`) or candle open times."""
GapState = Literal["open", "filling", "filled", "failed"]
"""open: detected, not yet backfilled; filling: the backfill runs; filled: every missing
record was written; failed: the last backfill attempt failed (`reason`), it is retried."""
Int = Annotated[int, Meta(ge=-INT64_MAX, le=INT64_MAX)]


class Gap(TypedDict):
    """Records `first`..`last` (inclusive, in `key` order) of one symbol's stream are missing;
    their market times (trade time, candle open time) lie within `from_ms`..`to_ms`
    (inclusive, epoch ms)."""

    symbol: Annotated[str, Meta(max_length=64)]
    stream: Annotated[str, Meta(max_length=128)]
    key: GapKey
    first: Int
    last: Int
    from_ms: Int
    to_ms: Int
    state: GapState
    backfilled: Annotated[int, Meta(ge=0, le=INT64_MAX)]
    """Records the backfill wrote so far."""
    detected_ms: Int
    reason: Annotated[str, Meta(max_length=300)] | None
    """Why it is not filled (the last backfill error), else None."""
