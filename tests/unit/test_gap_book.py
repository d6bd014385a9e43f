"""A job's GapBook and how the service applies its reports to a queue."""

from __future__ import annotations

from app.models.messages import Telemetry
from app.models.status import Status
from app.services import transitions
from app.workers.gaps import RECENT_FILLED, GapBook, GapSummary
from tests.unit.test_transitions import queue


def book() -> tuple[GapBook, list[GapSummary]]:
    reports: list[GapSummary] = []
    return GapBook(reports.append), reports


def test_every_change_is_reported_with_counts_and_bounds() -> None:
    gaps, reports = book()
    found = gaps.found("BTCUSDT", "btcusdt@trade", "trade_id", 101, 150, (1000, 2000))
    assert reports[-1].detected == 1 and reports[-1].open == 1
    assert reports[-1].gaps[0]["first"] == 101 and reports[-1].gaps[0]["to_ms"] == 2000
    gaps.filling(found)
    gaps.wrote(found, 30)
    gaps.failed(found, "GET http://x/api/v3/historicalTrades:\n refused")
    assert (reports[-1].gaps[0]["state"], reports[-1].gaps[0]["reason"]) == (
        "failed",
        "GET http://x/api/v3/historicalTrades: refused",
    )
    gaps.wrote(found, 20)
    gaps.filled(found)
    last = reports[-1]
    assert (last.detected, last.open, last.backfilled) == (1, 0, 50)
    assert last.gaps == [{**found, "state": "filled", "backfilled": 50, "reason": None}]
    assert len(reports) == 6


def test_open_gaps_come_first_and_only_the_latest_filled_are_kept() -> None:
    gaps, reports = book()
    for n in range(RECENT_FILLED + 3):
        gaps.filled(gaps.found("BTCUSDT", "s", "agg_id", n, n, (n, n)))
    still = gaps.found("BTCUSDT", "s", "agg_id", 99, 99, (99, 99))
    shown = reports[-1].gaps
    assert shown[0] == still and len(shown) == RECENT_FILLED + 1
    assert [g["first"] for g in shown[1:]] == list(range(3, RECENT_FILLED + 3))


def test_a_report_is_a_copy_later_changes_do_not_rewrite_it() -> None:
    gaps, reports = book()
    found = gaps.found("BTCUSDT", "s", "trade_id", 1, 2, (0, 0))
    gaps.wrote(found, 2)
    assert reports[0].gaps[0]["backfilled"] == 0


def test_the_service_keeps_counts_growing_and_the_latest_list() -> None:
    q = queue()
    job = q.jobs[0].name
    gaps, reports = book()
    found = gaps.found("BTCUSDT", "s", "trade_id", 1, 2, (0, 0))
    gaps.wrote(found, 2)
    gaps.filled(found)
    summary = reports[-1]

    def report(seq: int, detected: int, still_open: int, backfilled: int) -> Telemetry:
        return Telemetry(
            queue_id=q.id,
            job=job,
            status=Status.LOADING,
            seq=seq,
            gaps_detected=detected,
            gaps_open=still_open,
            records_backfilled=backfilled,
            gaps=summary.gaps,
        )

    assert transitions.apply_telemetry(q, report(1, 2, 1, 40))
    assert (q.gaps_detected, q.gaps_open, q.records_backfilled) == (2, 1, 40)
    assert transitions.apply_telemetry(q, report(2, 1, 0, 10))  # a restarted job counts anew
    assert (q.gaps_detected, q.gaps_open, q.records_backfilled) == (2, 0, 40)
    assert q.jobs[0].gaps == summary.gaps
    assert transitions.apply_telemetry(
        q, Telemetry(queue_id=q.id, job=job, status=Status.LOADING, seq=3)
    )
    assert q.jobs[0].gaps == summary.gaps, "a report without gaps leaves them as they were"
