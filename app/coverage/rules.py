"""When a day is complete: the rules of docs/architecture.md, "Coverage", as code.

A day D is the closed interval [00:00:00.000, 23:59:59.999] UTC. It is `complete` when the
time its runs prove covers all of D; `partial` when records of D landed but not all of D is
proven (`missing` lists the rest); `failed` when nothing of D landed and a load covering D
failed; `missing` when nothing of D landed. A run proves time as its series says
(app/workers/connector/coverage.py builds them): closed candles their own span, trades the
time strictly between their first and last trade, widened to the bounds the loader proved
(the first trade at or after its range's start, the last at or before its end). Keys carry
on across midnight: a run whose first key follows the last key of the day before proves D
from its start, and one whose last key is followed by the first key of the day after proves
D to its end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from app.coverage.days import DayRecord, day_end_ms, day_start_ms, iso
from app.coverage.runs import Run, holds, key_count
from app.models.coverage import DayCoverage, DayState, MissingSpan, SeriesKind


@dataclass(frozen=True, slots=True)
class Piece:
    """Proven time of one run within the day, and the run itself."""

    start: int
    end: int
    run: Run


@dataclass(frozen=True, slots=True)
class Neighbours:
    """The records of the day before and the day after (None when nothing landed)."""

    before: DayRecord | None
    after: DayRecord | None


def day_coverage(
    day: date, record: DayRecord | None, around: Neighbours, kind: SeriesKind
) -> DayCoverage:
    if record is None or not record.landed:
        failure = record.failure if record else None
        state = DayState.FAILED if failure else DayState.MISSING
        return DayCoverage(day=day, state=state, count=0, reason=failure and failure.reason)
    pieces = proven_pieces(day, record.runs, around, kind)
    missing = missing_spans(day, pieces, around, kind)
    return DayCoverage(
        day=day,
        state=DayState.PARTIAL if missing else DayState.COMPLETE,
        count=key_count(record.runs, kind.step),
        first=iso(record.first_ms) if record.first_ms is not None else None,
        last=iso(record.last_ms) if record.last_ms is not None else None,
        missing=missing,
        reason=record.failure.reason if record.failure and missing else None,
        collections=record.collections,
    )


def proven_pieces(day: date, runs: list[Run], around: Neighbours, kind: SeriesKind) -> list[Piece]:
    """Each run's proven time clipped to the day, widened across midnight by key continuity,
    in time order; empty proofs (a lone trade) are left out."""
    start, end = day_start_ms(day), day_end_ms(day)
    pieces = []
    for run in runs:
        low, high = run.from_ms, run.to_ms
        if around.before and holds(around.before.runs, run.first - kind.step, kind.step):
            low = start
        if around.after and holds(around.after.runs, run.last + kind.step, kind.step):
            high = end
        low, high = max(low, start), min(high, end)
        if low <= high:
            pieces.append(Piece(low, high, run))
    return sorted(pieces, key=lambda piece: piece.start)


def missing_spans(
    day: date, pieces: list[Piece], around: Neighbours, kind: SeriesKind
) -> list[MissingSpan]:
    """The day minus the pieces; each hole with the keys it lacks where they are known."""
    spans, cursor, previous = [], day_start_ms(day), None
    for piece in pieces:
        if piece.start > cursor:
            spans.append(_span(cursor, piece.start - 1, previous, piece.run, around, kind))
        if piece.end + 1 > cursor:
            cursor, previous = piece.end + 1, piece.run
    if cursor <= day_end_ms(day):
        spans.append(_span(cursor, day_end_ms(day), previous, None, around, kind))
    return spans


def _span(
    low: int, high: int, before: Run | None, after: Run | None, around: Neighbours, k: SeriesKind
) -> MissingSpan:
    first, last = _missing_keys(low, high, before, after, around, k)
    return MissingSpan(
        from_ms=low, to_ms=high, start=iso(low), end=iso(high), key=k.key, first=first, last=last
    )


def _missing_keys(
    low: int, high: int, before: Run | None, after: Run | None, around: Neighbours, k: SeriesKind
) -> tuple[int | None, int | None]:
    """Candles: the open times of the hole. Trades: the missing keys lie between the last
    key before the hole (this day's, else the day before's) and the first one after it."""
    if k.keyed_by_time:
        first = -(-low // k.step) * k.step
        last = (high + 1) // k.step * k.step - k.step
        return (first, last) if first <= last else (None, None)
    if before is None and around.before and around.before.runs:
        before = around.before.runs[-1]
    if after is None and around.after and around.after.runs:
        after = around.after.runs[0]
    return (
        before.last + 1 if before else None,
        after.first - 1 if after else None,
    )
