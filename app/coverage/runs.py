"""Runs: what of one series landed in one day, as maximal runs of consecutive keys.

A run `(first, last, from_ms, to_ms)` says every key `first, first + step, ..., last`
landed, and that together they leave nothing missing between `from_ms` and `to_ms`
(inclusive, epoch ms; `from_ms > to_ms` proves no time at all, like a lone trade). Runs
merge by union, so a report applied twice, late or out of order changes nothing more:
coverage reports need no sequence numbers and a redelivered batch counts nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple


class Run(NamedTuple):
    first: int
    last: int
    from_ms: int
    to_ms: int


def merge_runs(runs: Iterable[Run], step: int) -> list[Run]:
    """The union: overlapping or adjacent runs (the next key follows) become one, whose
    proven time is the union of theirs (no key is missing between them)."""
    merged: list[Run] = []
    for run in sorted(runs):
        if merged and run.first <= merged[-1].last + step:
            top = merged[-1]
            merged[-1] = Run(
                top.first,
                max(top.last, run.last),
                min(top.from_ms, run.from_ms),
                max(top.to_ms, run.to_ms),
            )
        else:
            merged.append(run)
    return merged


def key_count(runs: Iterable[Run], step: int) -> int:
    """How many distinct keys the runs hold."""
    return sum((run.last - run.first) // step + 1 for run in runs)


def holds(runs: Iterable[Run], key: int, step: int) -> bool:
    """Whether `key` landed (it lies on a run, aligned to its step)."""
    return any(run.first <= key <= run.last and (key - run.first) % step == 0 for run in runs)


def as_lists(runs: Iterable[Run]) -> list[list[int]]:
    """The stored and wire form: `[first, last, from_ms, to_ms]`."""
    return [list(run) for run in runs]


def from_lists(rows: Iterable[Iterable[int]]) -> list[Run]:
    return [Run(*row) for row in rows]
