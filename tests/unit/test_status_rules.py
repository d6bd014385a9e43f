"""The status rules: transitions, terminal states, the queue status derived from jobs."""

from __future__ import annotations

import pytest

from app.models.status import TERMINAL, Status, can_transition, derive_queue_status, stop_is_legal

S = Status


@pytest.mark.parametrize("terminal", sorted(TERMINAL))
def test_terminal_states_never_change(terminal: Status) -> None:
    assert not any(can_transition(terminal, other) for other in Status)


@pytest.mark.parametrize(
    ("current", "new", "allowed"),
    [
        (S.PENDING, S.STARTING, True),
        (S.STARTING, S.LOADING, True),
        (S.LOADING, S.FINISHED, True),
        (S.LOADING, S.STOPPING, True),
        (S.STOPPING, S.STOPPED, True),
        (S.PENDING, S.LOADING, True),
        (S.LOADING, S.STARTING, False),
        (S.STOPPING, S.LOADING, False),
        (S.LOADING, S.PENDING, False),
        (S.LOADING, S.LOADING, False),
    ],
)
def test_transitions(current: Status, new: Status, allowed: bool) -> None:
    assert can_transition(current, new) is allowed


@pytest.mark.parametrize(
    ("jobs", "stop", "expected"),
    [
        ([S.PENDING, S.PENDING], False, S.PENDING),
        ([S.STARTING, S.PENDING], False, S.STARTING),
        ([S.LOADING, S.STARTING], False, S.LOADING),
        ([S.FINISHED, S.PENDING], False, S.LOADING),
        ([S.FINISHED, S.FINISHED], False, S.FINISHED),
        ([S.FINISHED, S.ERROR], False, S.ERROR),
        ([S.ERROR, S.LOADING], False, S.LOADING),
        ([S.STOPPED, S.FINISHED], True, S.STOPPED),
        ([S.STOPPING, S.FINISHED], True, S.STOPPING),
        ([S.STOPPED, S.ERROR], True, S.ERROR),
    ],
)
def test_queue_status_is_derived_from_jobs(
    jobs: list[Status], stop: bool, expected: Status
) -> None:
    assert derive_queue_status(jobs, stop) is expected


@pytest.mark.parametrize(
    ("status", "legal"),
    [
        (S.LOADING, True),
        (S.STOPPED, True),
        (S.STOPPING, True),
        (S.PENDING, True),
        (S.FINISHED, False),
        (S.ERROR, False),
    ],
)
def test_stop_is_refused_only_for_queues_that_ended_by_themselves(
    status: Status, legal: bool
) -> None:
    assert stop_is_legal(status) is legal
