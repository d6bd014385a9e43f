"""The service's side of the Binance weight budget: equal shares per market from the store's
view, shrink before grow at launch, versions that only rise, a launch that never waits on
a store that is down."""

from __future__ import annotations

from functools import partial
from typing import Any, cast

import pytest

from app.errors import StoreUnavailable
from app.metrics import Metrics
from app.models.catalog import Exchange
from app.models.messages import WeightShareCommand
from app.models.queues import QueueCreate, QueueState
from app.models.status import Status
from app.services.changes import QueueChange
from app.services.pipeline import new_queue
from app.services.weight_shares import WeightShares
from app.store.base import QueueStore
from tests.fixtures.metrics import sample

BUDGETS = {Exchange.BINANCE: 4800, Exchange.BINANCE_FUTURES: 1920}


class Active:
    """The one store call the shares need; `down` makes it fail as a store outage does."""

    def __init__(self) -> None:
        self.queues: list[QueueState] = []
        self.down = False

    async def active(self) -> list[QueueState]:
        if self.down:
            raise StoreUnavailable("store down")
        return self.queues


def queue(queue_id: str, exchange: str = "binance", status: Status = Status.LOADING) -> QueueState:
    kind = "ws" if exchange == "moex" else "api"
    symbol = "SBER" if exchange == "moex" else "BTCUSDT"
    create = QueueCreate.model_validate(
        {
            "exchange": exchange,
            "symbol": symbol,
            "type": kind,
            "time_range": "2024-06-01:2024-06-01",
        }
    )
    state = new_queue(create, queue_id)
    for job in state.jobs:
        job.status = status
    return state


def loader(state: QueueState) -> str:
    return next(job.name for job in state.jobs if job.target == "loader-producer")


@pytest.fixture
def store() -> Active:
    return Active()


@pytest.fixture
def sent() -> list[WeightShareCommand]:
    return []


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def shares(store: Active, sent: list[WeightShareCommand], metrics: Metrics) -> WeightShares:
    clock = iter(range(1000, 10**6))
    made = WeightShares(
        cast(QueueStore, store), BUDGETS, metrics, 30.0, clock=lambda: next(clock) / 1000
    )
    made.send = sent.append
    return made


async def test_a_launch_shrinks_the_running_loaders_first(
    shares: WeightShares, store: Active, sent: list[WeightShareCommand]
) -> None:
    running = queue("q1")
    store.queues = [running]
    launching = queue("q2", status=Status.PENDING)
    env = await shares.launch_env(launching, launching.jobs)
    assert [(c.queue_id, c.job, c.share, c.loaders) for c in sent] == [
        ("q1", loader(running), 2400, 2)
    ]
    assert env == {
        loader(launching): {
            "BINANCE_REST_WEIGHT_SHARE": "2400",
            "BINANCE_REST_WEIGHT_SHARE_VERSION": str(sent[0].version),
            "BINANCE_REST_LOADERS": "2",
        }
    }


async def test_markets_have_budgets_of_their_own(
    shares: WeightShares, store: Active, sent: list[WeightShareCommand], metrics: Metrics
) -> None:
    store.queues = [queue("q1"), queue("q2"), queue("f1", "binance-futures")]
    await shares.broadcast()
    assert sorted((c.queue_id, c.market, c.share) for c in sent) == [
        ("f1", "binance-futures", 1920),
        ("q1", "binance", 2400),
        ("q2", "binance", 2400),
    ]
    assert sample(metrics, "binance_rest_loaders", market="binance") == 2
    assert sample(metrics, "binance_rest_weight_share", market="binance-futures") == 1920


async def test_only_running_binance_loaders_share(
    shares: WeightShares, store: Active, sent: list[WeightShareCommand]
) -> None:
    store.queues = [
        queue("q1"),
        queue("pending", status=Status.PENDING),
        queue("q3", status=Status.FINISHED),
        queue("moex", "moex"),
    ]
    await shares.broadcast()
    assert [(c.queue_id, c.share, c.loaders) for c in sent] == [("q1", 4800, 1)]


async def test_versions_only_rise(shares: WeightShares, store: Active, sent: list[Any]) -> None:
    store.queues = [queue("q1")]
    for _ in range(3):
        await shares.broadcast()
    versions = [c.version for c in sent]
    assert versions == sorted(set(versions)) and len(versions) == 3


async def test_a_loader_ending_marks_the_shares_for_sending(shares: WeightShares) -> None:
    """Its share goes to the others. A start does not: the launch gave its share and sent
    the others theirs."""
    state = queue("q1", status=Status.PENDING)
    await shares.on_change(QueueChange(state, None))
    state.jobs[0].status = Status.STARTING
    await shares.on_change(QueueChange(state, Status.PENDING))
    state.jobs[0].status = Status.LOADING
    await shares.on_change(QueueChange(state, Status.STARTING))
    assert not shares.stale
    state.jobs[0].status = Status.FINISHED
    await shares.on_change(QueueChange(state, Status.LOADING))
    assert shares.stale
    await shares.broadcast()
    assert not shares.stale


async def test_a_launch_does_not_wait_on_a_store_that_is_down(
    shares: WeightShares, store: Active, sent: list[WeightShareCommand]
) -> None:
    running = queue("q1")
    await shares.on_change(QueueChange(running, Status.STARTING))  # this replica saw it start
    store.down = True
    launching = queue("q2", status=Status.PENDING)
    env = await shares.launch_env(launching, launching.jobs)
    assert env[loader(launching)]["BINANCE_REST_WEIGHT_SHARE"] == "2400"
    assert [c.queue_id for c in sent] == ["q1"]
    sent.clear()
    await shares.broadcast()  # the periodic round is skipped, not sent from nothing
    assert sent == []


async def test_replicas_with_one_store_send_the_same_shares(
    store: Active, metrics: Metrics
) -> None:
    """Each replica counts from the store, so both tell every loader the same share; the
    loader keeps the newest version, whichever replica sent it."""
    store.queues = [queue("q1"), queue("q2"), queue("q3", "binance-futures")]
    told: list[list[WeightShareCommand]] = [[], []]
    for index, seconds in enumerate((5.0, 5.001)):
        replica = WeightShares(
            cast(QueueStore, store), BUDGETS, metrics, 30.0, clock=partial(float, seconds)
        )
        replica.send = told[index].append
        await replica.broadcast()
    first, second = ({(c.queue_id, c.job): c.share for c in sent} for sent in told)
    assert first == second and sorted(first.values()) == [1920, 2400, 2400]
    assert all(a.version < b.version for a, b in zip(told[0], told[1], strict=True))
