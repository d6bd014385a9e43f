"""One contract for every ScheduleStore adapter: SQLite, ArangoDB through the fake server in
every run, and a real ArangoDB too when ARANGO_URL is set."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.errors import AlreadyExists, ScheduleNotFound
from app.models.schedules import RunOutcome, ScheduleRun, ScheduleState
from app.store.base import ScheduleStore
from app.store.sqlite_schedules import SqliteScheduleStore
from tests.fakes.arango_http import FakeArango
from tests.fixtures.arango import ARANGO_KINDS, arango_settings, fresh_database, server_url

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", *ARANGO_KINDS])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, fake_arango: FakeArango
) -> AsyncIterator[ScheduleStore]:
    if request.param == "sqlite":
        adapter: ScheduleStore = SqliteScheduleStore(tmp_path / "store.db")
        await adapter.open()
        yield adapter
        await adapter.close()
        return
    from app.store.arango_schedules import ArangoScheduleStore

    url = server_url(request.param, fake_arango)
    async with fresh_database(url, create=False) as database:
        adapter = ArangoScheduleStore(arango_settings(url, database))
        await adapter.open()
        await adapter.open()  # a second start-up (another replica) finds everything in place
        yield adapter
        await adapter.close()


def make(name: str = "nightly") -> ScheduleState:
    return ScheduleState.model_validate(
        {
            "id": str(uuid.uuid4()),
            "name": name,
            "cron": "*/10 * * * * *",
            "timezone": "Europe/Berlin",
            "queue": {"symbol": "BTCUSDT", "type": "api", "time_range": "yesterday"},
            "cursor": T0,
        }
    )


def claim(slot: datetime) -> object:
    """The scheduler's claim: only a slot after the cursor, recorded with the cursor."""

    def change(schedule: ScheduleState) -> bool:
        if slot <= schedule.cursor:
            return False
        schedule.cursor = slot
        schedule.record(ScheduleRun(slot=slot, outcome=RunOutcome.CLAIMED))
        return True

    return change


async def test_create_get_and_list_round_trip(store: ScheduleStore) -> None:
    second, first = make("b-second"), make("a-first")
    for schedule in (second, first):
        await store.create(schedule)
    assert (await store.get(first.id)).model_dump() == first.model_dump()
    assert [s.id for s in await store.all()] == [first.id, second.id], "by name"


async def test_a_taken_id_or_name_is_refused(store: ScheduleStore) -> None:
    schedule = make()
    await store.create(schedule)
    with pytest.raises(AlreadyExists):
        await store.create(schedule)
    with pytest.raises(AlreadyExists):
        await store.create(make(schedule.name))
    other = make("other")
    await store.create(other)

    def rename(s: ScheduleState) -> bool:
        s.name = schedule.name
        return True

    with pytest.raises(AlreadyExists):
        await store.mutate(other.id, rename)
    assert (await store.get(other.id)).name == "other"


@pytest.mark.parametrize("schedule_id", ["no-such", "a/b", "x?y", "%41", "x" * 300])
async def test_unknown_ids_are_not_found(store: ScheduleStore, schedule_id: str) -> None:
    await store.create(make())
    with pytest.raises(ScheduleNotFound):
        await store.get(schedule_id)
    with pytest.raises(ScheduleNotFound):
        await store.mutate(schedule_id, lambda s: True)
    with pytest.raises(ScheduleNotFound):
        await store.delete(schedule_id)


async def test_mutate_counts_revisions_and_writes_nothing_without_change(
    store: ScheduleStore,
) -> None:
    schedule = make()
    await store.create(schedule)
    after, changed = await store.mutate(schedule.id, lambda s: False)
    assert not changed and after.revision == 0
    after, changed = await store.mutate(schedule.id, claim(T0 + timedelta(seconds=10)))  # type: ignore[arg-type]
    assert changed and after.revision == 1
    assert (await store.get(schedule.id)).runs[0].outcome is RunOutcome.CLAIMED


async def test_concurrent_claims_of_one_slot_claim_it_once(store: ScheduleStore) -> None:
    """Twenty claimants of the same slots (replicas racing): each slot claimed exactly once,
    every claimant's change re-run on the newer document after a conflict."""
    schedule = make()
    await store.create(schedule)
    slots = [T0 + timedelta(seconds=10 * n) for n in range(1, 4)]
    attempts = [store.mutate(schedule.id, claim(slot)) for slot in slots for _ in range(20)]  # type: ignore[arg-type]
    results = await asyncio.gather(*attempts)
    assert sum(changed for _, changed in results) <= len(slots)
    final = await store.get(schedule.id)
    claimed = [run.slot for run in final.runs]
    assert len(claimed) == len(set(claimed)), "no slot claimed twice"
    assert final.cursor == max(claimed)


async def test_delete_removes_it(store: ScheduleStore) -> None:
    schedule = make()
    await store.create(schedule)
    await store.delete(schedule.id)
    with pytest.raises(ScheduleNotFound):
        await store.get(schedule.id)
    assert await store.all() == []
    await store.create(make(schedule.name))  # the name is free again
