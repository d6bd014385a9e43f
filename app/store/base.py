"""The QueueStore port. Every adapter passes the same contract suite (tests/contract)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol, TypeVar

import structlog
from pydantic import ValidationError

from app.coverage.days import DayRecord, Series, SeriesFilter
from app.models.queries import QueueFilter
from app.models.queues import QueueState
from app.models.schedules import ScheduleState
from app.models.status import Status

log = structlog.get_logger(__name__)
Document = TypeVar("Document")
Mutation = Callable[[QueueState], bool]
"""Changes a queue in place; returns False when there was nothing to change."""


def readable_queues(
    documents: Iterable[tuple[str, Document]], parse: Callable[[Document], QueueState]
) -> list[QueueState]:
    """The queues whose stored document still parses. One that does not (a damaged file, a
    bad migration) is logged and left out, so it cannot hide every other active queue from
    recovery and the stall checker; reading it by id still fails and says so."""
    queues = []
    for queue_id, document in documents:
        try:
            queues.append(parse(document))
        except ValidationError as error:
            log.error("stored queue cannot be read: left out", queue_id=queue_id, error=str(error))
    return queues


@dataclass(frozen=True)
class QueuePage:
    items: list[QueueState]
    total: int


@dataclass(frozen=True)
class JsonPage:
    """A page as stored JSON documents, for answers that need no parse (GET /queues)."""

    documents: list[bytes]
    total: int


class QueueStore(Protocol):
    """Where queues live. Writes are atomic per queue: `mutate` is a read-modify-write that
    never loses a concurrent write (a stop and a telemetry update arriving together)."""

    async def open(self) -> None:
        """Create schema, collections and indexes when missing."""

    async def close(self) -> None: ...

    async def create(self, queue: QueueState) -> None:
        """Insert; raises AlreadyExists when the id is taken (start-command idempotency)."""

    async def get(self, queue_id: str) -> QueueState:
        """Raises QueueNotFound."""

    async def get_json(self, queue_id: str) -> bytes:
        """The queue as QueueState JSON, without a parse and re-serialise (the hot read)."""

    async def page(self, query: QueueFilter) -> QueuePage:
        """Newest first."""

    async def page_json(self, query: QueueFilter) -> JsonPage:
        """The same page as QueueState JSON documents."""

    async def mutate(self, queue_id: str, change: Mutation) -> tuple[QueueState, bool]:
        """Apply `change` atomically; returns the queue after it and whether it changed."""

    async def mutate_many(self, changes: dict[str, Mutation]) -> dict[str, tuple[QueueState, bool]]:
        """Several queues' changes in one go (one transaction where the store has them);
        ids that do not exist are left out of the result."""

    async def active(self) -> list[QueueState]:
        """Every queue not yet in a terminal status (restart recovery)."""

    async def active_revisions(self) -> dict[str, int]:
        """Every active queue's id and revision, without its document: a reader that keeps
        parsed queues (the job scheduler) reads again only those that changed."""

    async def count_by_status(self) -> dict[Status, int]: ...

    async def hold_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew lease `name` for `holder` until `seconds` from now (atomic); False
        while another holder's lease has not expired (the job scheduler's admission lease,
        so replicas sharing a store admit one at a time)."""

    async def ping(self) -> None:
        """Raises StoreUnavailable unless the store can be written now."""


ScheduleChange = Callable[[ScheduleState], bool]
"""Changes a schedule in place; returns False when there was nothing to change."""


class ScheduleStore(Protocol):
    """Where schedules live, beside the queues. `mutate` is a read-modify-write with a
    revision check: when another writer (another replica's scheduler) changed the schedule
    meanwhile, `change` runs again on the newer document, so a claim made there is seen."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def create(self, schedule: ScheduleState) -> None:
        """Insert; AlreadyExists when the id or the name is taken."""

    async def get(self, schedule_id: str) -> ScheduleState:
        """Raises ScheduleNotFound."""

    async def all(self) -> list[ScheduleState]:
        """Every schedule, by name."""

    async def mutate(self, schedule_id: str, change: ScheduleChange) -> tuple[ScheduleState, bool]:
        """Apply `change` atomically (revision +1 when it changed something); AlreadyExists
        when it renames onto a name that is taken; ScheduleNotFound."""

    async def delete(self, schedule_id: str) -> None:
        """Raises ScheduleNotFound."""


class CoverageStore(Protocol):
    """The coverage map's days (app/coverage/days.py), beside the queues. `merge` is a
    union per day (atomic per day document), so a report merged twice, or two reports of
    one day merged together by two replicas, lose nothing and count nothing twice."""

    async def open(self) -> None:
        """Create the table or collection and its index when missing."""

    async def close(self) -> None: ...

    async def merge(self, updates: Sequence[DayRecord]) -> None:
        """Merge every update into its day (several updates of one day included)."""

    async def series(self, which: SeriesFilter, limit: int) -> list[Series]:
        """The stored series that match, by exchange, symbol and data type; at most `limit`."""

    async def days(self, series: Series, first: date, last: date) -> list[DayRecord]:
        """The stored days of one series from `first` to `last` (inclusive), by day."""
