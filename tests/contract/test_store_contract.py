"""One contract for every QueueStore adapter: SQLite, ArangoDB through the fake server in every
run, and a real ArangoDB too when ARANGO_URL is set."""

from __future__ import annotations

import asyncio
import uuid
import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.errors import AlreadyExists, QueueNotFound
from app.models.messages import Telemetry
from app.models.queries import QueueFilter
from app.models.queues import QueueCreate, QueueState
from app.models.status import Status
from app.services import transitions
from app.services.pipeline import new_queue
from app.store.base import QueueStore
from app.store.sqlite import SqliteQueueStore
from tests.fakes.arango_http import FakeArango
from tests.fixtures.arango import ARANGO_KINDS, arango_settings, fresh_database, server_url


@pytest.fixture(params=["sqlite", *ARANGO_KINDS])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, fake_arango: FakeArango
) -> AsyncIterator[QueueStore]:
    if request.param == "sqlite":
        adapter: QueueStore = SqliteQueueStore(tmp_path / "store.db")
        await adapter.open()
        yield adapter
        await adapter.close()
        return
    from app.store.arango import ArangoQueueStore

    url = server_url(request.param, fake_arango)
    async with fresh_database(url, create=False) as database:
        adapter = ArangoQueueStore(arango_settings(url, database))
        await adapter.open()
        yield adapter
        await adapter.close()


def make(symbol: str = "BTCUSDT", **extra: object) -> QueueState:
    body = {"symbol": symbol, "type": "api", "time_range": "2024-01-01:2024-01-02", **extra}
    return new_queue(QueueCreate.model_validate(body), str(uuid.uuid4()))


async def test_create_then_get_round_trips(store: QueueStore) -> None:
    queue = make()
    await store.create(queue)
    assert (await store.get(queue.id)).model_dump() == queue.model_dump()


async def test_create_twice_is_refused(store: QueueStore) -> None:
    queue = make()
    await store.create(queue)
    with pytest.raises(AlreadyExists):
        await store.create(queue)


async def test_unknown_id_is_not_found(store: QueueStore) -> None:
    with pytest.raises(QueueNotFound):
        await store.get("no-such-queue")
    with pytest.raises(QueueNotFound):
        await store.mutate("no-such-queue", lambda q: True)


@pytest.mark.parametrize("queue_id", ["a/b", "queue_state/x", "x?y", "%41", "a~b", "x" * 300])
async def test_an_id_no_queue_can_have_is_not_found(store: QueueStore, queue_id: str) -> None:
    await store.create(make())
    with pytest.raises(QueueNotFound):
        await store.get(queue_id)
    with pytest.raises(QueueNotFound):
        await store.get_json(queue_id)
    assert await store.mutate_many({queue_id: lambda q: True}) == {}


async def test_page_is_newest_first_filtered_and_counted(store: QueueStore) -> None:
    queues = [make("ETHUSDT" if i % 2 else "BTCUSDT") for i in range(7)]
    for queue in queues:
        await store.create(queue)
        await asyncio.sleep(0.002)  # distinct created_at values: ordering is what is tested
    page = await store.page(QueueFilter(symbol="ETHUSDT", limit=2, offset=1))
    eth = [q.id for q in reversed(queues) if q.symbol == "ETHUSDT"]
    assert (page.total, [q.id for q in page.items]) == (3, eth[1:3])
    everything = await store.page(QueueFilter(limit=100))
    assert [q.id for q in everything.items] == [q.id for q in reversed(queues)]


async def test_page_order_holds_for_a_queue_created_on_a_whole_second(store: QueueStore) -> None:
    """A timestamp with zero microseconds must not sort after later ones of its second."""
    second = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    stamps = [second, second + timedelta(microseconds=1), second + timedelta(microseconds=500)]
    queues = [make() for _ in stamps]
    for queue, stamp in zip(queues, stamps, strict=True):
        queue.created_at = stamp
        await store.create(queue)
    page = await store.page(QueueFilter(limit=10))
    assert [q.id for q in page.items] == [q.id for q in reversed(queues)]


async def test_active_leaves_out_a_document_that_no_longer_reads(store: QueueStore) -> None:
    """One damaged document (a bad migration, a hand edit) must not hide every other active
    queue from recovery and the stall checker."""
    broken, sound = make(), make()
    for queue in (broken, sound):
        await store.create(queue)

    def damage(queue: QueueState) -> bool:
        queue.records_written = "not a number"  # type: ignore[assignment]
        return True

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydantic warns as it writes the bad value
        await store.mutate(broken.id, damage)
    assert [queue.id for queue in await store.active()] == [sound.id]


async def test_symbol_filter_finds_multi_ticker_queues(store: QueueStore) -> None:
    queue = make(symbols=["ETHUSDT", "SOLUSDT"])
    await store.create(queue)
    page = await store.page(QueueFilter(symbol="solusdt"))
    assert [q.id for q in page.items] == [queue.id]


async def test_status_filter_and_counts(store: QueueStore) -> None:
    first, second = make(), make()
    for queue in (first, second):
        await store.create(queue)
    await store.mutate(second.id, transitions.request_stop)
    page = await store.page(QueueFilter(status=Status.STOPPED))
    assert [q.id for q in page.items] == [second.id]
    counts = await store.count_by_status()
    assert (counts[Status.PENDING], counts[Status.STOPPED]) == (1, 1)
    assert [q.id for q in await store.active()] == [first.id]


async def test_mutate_without_change_writes_nothing(store: QueueStore) -> None:
    queue = make()
    await store.create(queue)
    after, changed = await store.mutate(queue.id, lambda q: False)
    assert not changed and after.revision == queue.revision


async def test_concurrent_stop_and_telemetry_both_land(store: QueueStore) -> None:
    """A stop and a telemetry update arriving together must not lose either write."""
    queue = make()
    await store.create(queue)
    job = queue.jobs[0].name

    def telemetry(seq: int) -> Telemetry:
        return Telemetry(
            queue_id=queue.id, job=job, status=Status.LOADING, seq=seq, records_written=seq * 10
        )

    updates = [
        store.mutate(
            queue.id,
            lambda q, s=s: transitions.apply_telemetry(  # type: ignore[misc]
                q, telemetry(s)
            ),
        )
        for s in range(20)
    ]
    await asyncio.gather(*updates, store.mutate(queue.id, transitions.request_stop))
    final = await store.get(queue.id)
    assert final.stop_requested
    assert final.jobs[0].seq == 19 and final.jobs[0].records_written == 190


async def test_ping_succeeds_on_a_working_store(store: QueueStore) -> None:
    await store.ping()


async def test_mutate_many_changes_each_queue_and_leaves_out_unknown_ids(store: QueueStore) -> None:
    first, second = make(), make()
    for queue in (first, second):
        await store.create(queue)
    results = await store.mutate_many(
        {first.id: transitions.request_stop, second.id: lambda q: False, "nope": lambda q: True}
    )
    assert set(results) == {first.id, second.id}
    assert results[first.id][1] and not results[second.id][1]
    assert (await store.get(first.id)).stop_requested
    assert b'"stop_requested":true' in await store.get_json(first.id)


async def test_a_lease_is_held_by_one_holder_until_it_expires(store: QueueStore) -> None:
    assert await store.hold_lease("admission", "a", 30)
    assert not await store.hold_lease("admission", "b", 30)
    assert await store.hold_lease("admission", "a", 30), "the holder renews it"
    assert await store.hold_lease("other", "b", 30), "each name is its own lease"
    assert await store.hold_lease("admission", "a", -1)  # renewed as already expired
    assert await store.hold_lease("admission", "b", 30), "an expired lease is free"
    assert not await store.hold_lease("admission", "a", 30)


async def test_active_revisions_name_every_active_queue_and_move_with_each_change(
    store: QueueStore,
) -> None:
    running, ended = make(), make()
    for queue in (running, ended):
        await store.create(queue)
    await store.mutate(ended.id, lambda q: transitions.request_stop(q, "done"))
    before = await store.active_revisions()
    assert set(before) >= {running.id} and ended.id not in before
    changed, _ = await store.mutate(
        running.id,
        lambda q: transitions.hold_jobs(
            q, {}, {q.jobs[0].name: "waiting for a slot: 1 of 1 jobs running"}
        ),
    )
    after = await store.active_revisions()
    assert after[running.id] == changed.revision > before[running.id]
