"""The ArangoDB adapters against the fake server, through the real python-arango client:
permissions, races between replicas, one attempt per call, and what each failure becomes."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from app.errors import QueueNotFound, StoreUnavailable
from app.models.queues import QueueCreate, QueueState
from app.services import transitions
from app.services.pipeline import new_queue
from app.store.arango import ArangoQueueStore
from app.workers.connector.arango_documents import ArangoDocumentStore
from app.workers.connector.documents import to_document
from tests.fakes.arango_http import (
    ABORT,
    Collection,
    FakeArango,
    before,
    reply,
    serve,
    stall,
)
from tests.fixtures.arango import arango_settings

pytestmark = pytest.mark.timeout(20)
QUEUE_DOCS = r"_api/document/queue_state/"


@pytest.fixture
def fake() -> Iterator[FakeArango]:
    """A server of this test's own: faults and request counts stay local."""
    with serve() as server:
        yield server


def make_queue() -> QueueState:
    body = {"symbol": "BTCUSDT", "type": "api", "time_range": "2024-01-01:2024-01-02"}
    return new_queue(QueueCreate.model_validate(body), str(uuid.uuid4()))


async def open_store(fake: FakeArango, database: str = "streamforge", **settings: Any) -> Any:
    store = ArangoQueueStore(arango_settings(fake.url, database, **settings), timeout_seconds=2)
    await store.open()
    return store


@pytest.fixture
async def store(fake: FakeArango) -> AsyncIterator[ArangoQueueStore]:
    opened = await open_store(fake)
    yield opened
    await opened.close()


# --- permissions --------------------------------------------------------------------------


async def test_a_user_granted_only_on_its_own_database_never_touches_system(
    fake: FakeArango,
) -> None:
    fake.create_database("qm")
    fake.add_user("qm-user", "pw", {"qm": "rw"})
    store = await open_store(fake, "qm", arango_user="qm-user", arango_password="pw")
    queue = make_queue()
    await store.create(queue)
    assert (await store.get(queue.id)).id == queue.id
    await store.close()
    assert [path for _, db, path in fake.requests if db == "_system"] == []


async def test_existing_collections_and_indexes_need_no_administrate_right(
    fake: FakeArango,
) -> None:
    await (await open_store(fake, "qm")).close()  # root prepares everything once
    grants = {"qm": "ro", "qm/queue_state": "rw", "qm/queue_manager_meta": "rw"}
    fake.add_user("writer", "pw", grants)
    store = await open_store(fake, "qm", arango_user="writer", arango_password="pw")
    await store.create(make_queue())
    await store.ping()
    await store.close()


async def test_a_missing_database_the_user_may_not_create_says_so(fake: FakeArango) -> None:
    fake.add_user("qm-user", "pw", {"qm": "rw"})
    with pytest.raises(StoreUnavailable, match="does not exist and user qm-user may not create"):
        await open_store(fake, "qm", arango_user="qm-user", arango_password="pw")


async def test_wrong_credentials_name_the_settings_to_check(fake: FakeArango) -> None:
    with pytest.raises(StoreUnavailable, match="401 not authorized: check ARANGO_USER"):
        await open_store(fake, arango_password="wrong")


# --- two replicas starting together ------------------------------------------------------------


async def test_replicas_racing_to_create_database_and_collections_both_start(
    fake: FakeArango,
) -> None:
    def other_replica_creates(name: str) -> None:
        fake.databases["qm"].collections.setdefault(name, _empty_collection(fake, name))

    fake.fail("POST", r"^_api/database$", before(lambda: fake.create_database("qm")))
    fake.fail("POST", r"^_api/collection$", before(lambda: other_replica_creates("queue_state")))
    store = await open_store(fake, "qm")
    await store.create(make_queue())
    await store.close()
    assert fake.calls("POST", r"^_api/collection$") == 2  # both answered 1207 or created


def _empty_collection(fake: FakeArango, name: str) -> Collection:
    return Collection(name, fake.new_id())


async def test_connector_replicas_racing_on_a_collection_both_write(fake: FakeArango) -> None:
    fake.create_database("qm")
    fake.fail("POST", r"^_api/collection$", before(lambda: _create(fake, "qm", "candles")))
    documents = ArangoDocumentStore(arango_settings(fake.url, "qm"))
    assert await documents.upsert("candles", [to_document({"id": "a"})]) == 1
    await documents.close()


async def test_connector_writes_an_existing_collection_without_administrate(
    fake: FakeArango,
) -> None:
    fake.create_database("qm")
    _create(fake, "qm", "candles")
    fake.add_user("connector", "pw", {"qm": "ro", "qm/candles": "rw"})
    settings = arango_settings(fake.url, "qm", arango_user="connector", arango_password="pw")
    documents = ArangoDocumentStore(settings)
    assert await documents.upsert("candles", [to_document({"id": "a"})]) == 1
    await documents.close()


def _create(fake: FakeArango, database: str, name: str) -> None:
    fake.databases[database].collections[name] = _empty_collection(fake, name)


# --- one attempt per call ----------------------------------------------------------------------


async def test_a_busy_server_is_asked_once_not_four_times(
    fake: FakeArango, store: ArangoQueueStore
) -> None:
    fake.fail("GET", QUEUE_DOCS, reply(503, "<html>busy</html>"), times=10)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="HTTP 503"):
        await store.get(str(uuid.uuid4()))
    assert fake.calls("GET", QUEUE_DOCS) == 1
    assert time.monotonic() - started < 1.5


async def test_a_dropped_connection_is_one_attempt_and_unavailable(
    fake: FakeArango, store: ArangoQueueStore
) -> None:
    fake.fail("GET", QUEUE_DOCS, ABORT, times=10)
    with pytest.raises(StoreUnavailable, match="unreachable"):
        await store.get(str(uuid.uuid4()))
    assert fake.calls("GET", QUEUE_DOCS) == 1


# --- the connector maps every failure -------------------------------------------------------------


@pytest.mark.parametrize("fault", [ABORT, stall(2.0)], ids=["connection-dropped", "read-timeout"])
async def test_connector_transport_failures_are_store_unavailable(
    fake: FakeArango, fault: Any
) -> None:
    fake.create_database("qm")
    documents = ArangoDocumentStore(arango_settings(fake.url, "qm"), timeout_seconds=0.3)
    fake.fail("POST", r"^_api/document/candles$", fault)
    with pytest.raises(StoreUnavailable):
        await documents.upsert("candles", [to_document({"id": "a"})])
    await documents.close()


async def test_connector_count_and_read_of_a_missing_collection_are_empty(
    fake: FakeArango,
) -> None:
    fake.create_database("qm")
    documents = ArangoDocumentStore(arango_settings(fake.url, "qm"))
    assert (
        await documents.count("nothing_yet"),
        await documents.get_many("nothing_yet", ["a"]),
    ) == (
        0,
        {},
    )
    await documents.close()


# --- revision checks ---------------------------------------------------------------------------


async def test_a_5xx_without_error_code_is_unavailable_not_a_conflict(
    fake: FakeArango, store: ArangoQueueStore
) -> None:
    queue = make_queue()
    await store.create(queue)
    fake.fail("PUT", QUEUE_DOCS, reply(502, "<html>Bad Gateway</html>"), times=50)
    with pytest.raises(StoreUnavailable) as caught:
        await store.mutate(queue.id, transitions.request_stop)
    assert caught.value.status_code == 503
    assert fake.calls("PUT", QUEUE_DOCS) == 1


async def test_a_queue_deleted_between_read_and_replace_is_not_found(
    fake: FakeArango, store: ArangoQueueStore
) -> None:
    queue = make_queue()
    await store.create(queue)
    collection = fake.databases["streamforge"].collections["queue_state"]
    fake.fail("PUT", QUEUE_DOCS, before(lambda: collection.documents.pop(queue.id)))
    with pytest.raises(QueueNotFound):
        await store.mutate(queue.id, transitions.request_stop)


async def test_a_real_conflict_is_retried_until_it_lands(
    fake: FakeArango, store: ArangoQueueStore
) -> None:
    queue = make_queue()
    await store.create(queue)
    collection = fake.databases["streamforge"].collections["queue_state"]

    def someone_else_writes() -> None:
        stored = collection.documents[queue.id]
        collection.documents[queue.id] = {**stored, "_rev": fake.revision()}

    fake.fail("PUT", QUEUE_DOCS, before(someone_else_writes), times=3)
    after, changed = await store.mutate(queue.id, transitions.request_stop)
    assert changed and after.stop_requested
    assert fake.calls("PUT", QUEUE_DOCS) == 4
