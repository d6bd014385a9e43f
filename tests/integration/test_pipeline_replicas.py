"""Two service instances on one ArangoDB (the fake server in every run, a real one too when
ARANGO_URL is set): admission limits hold for the whole service, not per replica."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fakes.arango_http import FakeArango
from tests.fixtures.arango import ARANGO_KINDS, arango_settings, fresh_database, server_url
from tests.fixtures.metrics import sample
from tests.fixtures.timed_jobs import most_at_once, runs_of, timed_targets

pytestmark = pytest.mark.timeout(120)
SHORT = {"symbol": "BTCUSDT", "type": "api", "time_range": "2024-01-01:2024-01-03"}
QUEUES = 10


@pytest.mark.parametrize("kind", ARANGO_KINDS)
async def test_two_replicas_together_never_run_more_than_max_running_jobs(
    app_with: Any, fake_arango: FakeArango, tmp_path: Path, kind: str
) -> None:
    url = server_url(kind, fake_arango)
    log = tmp_path / "runs.log"
    async with fresh_database(url, create=False) as database:
        store = arango_settings(url, database)
        common: dict[str, Any] = {
            "targets": timed_targets(log, seconds=0.3),
            "max_running_jobs": 3,
            "scheduling_period_seconds": 0.5,
            "arango_url": url,
            "arango_db": database,
            "arango_user": store.arango_user,
            "arango_password": store.arango_password.get_secret_value(),
        }
        async with (
            app_with(data_dir=tmp_path / "a", **common) as first,
            app_with(data_dir=tmp_path / "b", **common) as second,
        ):
            replicas = (first, second)
            ids = [await replicas[i % 2].start(SHORT) for i in range(QUEUES)]
            for queue_id in ids:
                queue = await first.wait_for(
                    queue_id, lambda q: q["status"] in ("finished", "error"), within=90
                )
                assert queue["status"] == "finished", queue
            held = [sample(qm.state.metrics, "admission_lease_held") for qm in replicas]
    assert sorted(held) == [0, 1], "one replica admits"
    runs = runs_of(log)
    assert len(runs) == 2 * QUEUES
    assert 1 < most_at_once(runs) <= 3
