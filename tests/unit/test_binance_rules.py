"""Pure rules of the Binance loaders: book continuity, time ranges, trade hold-back."""

from __future__ import annotations

import pytest

from app.errors import InvalidInput
from app.workers.binance.depth_book import LocalBook, Verdict
from app.workers.binance.rest_history import split_complete
from app.workers.binance.timerange import iso_ms, parse_instant, parse_time_range


def spot_book(last_id: int) -> LocalBook:
    return LocalBook(futures=False, synced=True, last_id=last_id)


@pytest.mark.parametrize(
    ("first", "last", "verdict"),
    [
        (90, 100, Verdict.SKIP),
        (95, 101, Verdict.APPLY),
        (101, 105, Verdict.APPLY),
        (102, 105, Verdict.GAP),
    ],
)
def test_spot_continuity(first: int, last: int, verdict: Verdict) -> None:
    assert spot_book(100).judge({"U": first, "u": last}) is verdict


def test_futures_first_event_spans_snapshot_then_pu_chains() -> None:
    book = LocalBook(futures=True, synced=True, last_id=100)
    assert book.judge({"U": 90, "u": 99, "pu": 89}) is Verdict.SKIP
    assert book.judge({"U": 101, "u": 103, "pu": 100}) is Verdict.GAP
    first = {"U": 98, "u": 102, "pu": 97, "b": [["1.0", "2"]], "a": []}
    assert book.judge(first) is Verdict.APPLY
    book.apply(first)
    assert book.judge({"U": 103, "u": 104, "pu": 102}) is Verdict.APPLY
    assert book.judge({"U": 105, "u": 106, "pu": 104}) is Verdict.GAP
    assert book.bids == {"1.0": "2"}


def test_time_range_is_utc_and_end_inclusive() -> None:
    start, end = parse_time_range("2024-06-01:2024-06-02")
    assert iso_ms(start) == "2024-06-01T00:00:00.000Z"
    assert iso_ms(end) == "2024-06-02T23:59:59.999Z"
    with pytest.raises(InvalidInput):
        parse_time_range("2024-06-02:2024-06-01")


def test_resume_accepts_epoch_ms_and_iso() -> None:
    assert parse_instant("1717200000000") == parse_instant("2024-06-01T00:00:00Z")
    assert parse_instant("2024-06-01T00:00:00") == 1_717_200_000_000


def test_trades_of_the_last_millisecond_are_held_back() -> None:
    rows = [{"T": 1}, {"T": 2}, {"T": 3}, {"T": 3}]
    assert split_complete(rows) == ([{"T": 1}, {"T": 2}], [{"T": 3}, {"T": 3}])
    assert split_complete([{"T": 5}, {"T": 5}]) == ([], [{"T": 5}, {"T": 5}])
