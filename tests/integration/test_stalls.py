"""The stall rule on the real service (Kubernetes launcher on kmock, so jobs outlive a
restart of the service; the real dispatcher and stall checker; SQLite).

Must hold: a starting job that sends no telemetry becomes `stalled` ("no telemetry for
N s") and so does its queue; a report makes it `ok` again; silence stalls it again; after
a restart it is still `stalled`, and a report it sent long ago (read from the backlog
after the restart) does not make it `ok`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.bus.kafka import KafkaBus
from app.config import Settings
from tests.fixtures.eventually import eventually
from tests.fixtures.kube import KubeEmulator
from tests.fixtures.metrics import sample
from tests.integration.test_cluster_mode import kubeconfig  # noqa: F401 (a fixture)
from tests.seed_examples import BASIC

pytestmark = pytest.mark.timeout(90)


def health(queue: dict[str, Any]) -> dict[str, Any]:
    return dict(queue["jobs"][0]["health"])


async def report(settings: Settings, queue: dict[str, Any], seq: int, sent: datetime) -> None:
    """The loader's telemetry as the job would send it, stamped `sent`."""
    message = {
        "type": "telemetry",
        "queue_id": queue["id"],
        "job": queue["jobs"][0]["name"],
        "status": "loading",
        "seq": seq,
        "ts": sent.isoformat(),
    }
    bus = KafkaBus(settings)
    await bus.start()
    try:
        await bus.send(settings.queue_control_topic, queue["id"], orjson.dumps(message))
    finally:
        await bus.stop()


async def test_a_silent_job_is_stalled_until_it_reports_and_a_restart_keeps_it_stalled(
    app_with: Any,
    kube: KubeEmulator,
    kubeconfig: Path,  # noqa: F811
) -> None:
    cluster = {"job_launcher": "kubernetes", "k8s_namespace": kube.namespace}
    async with app_with(kubeconfig=kubeconfig, stall_after_seconds=1.0, **cluster) as qm:
        queue_id = await qm.start(BASIC)
        stalled = await qm.wait_for(queue_id, lambda q: health(q)["state"] == "stalled")
        assert health(stalled)["reason"] == "no telemetry for 1 s"
        assert health(stalled)["since"] == stalled["jobs"][0]["started_at"]
        assert stalled["health"]["state"] == "stalled"
        assert stalled["health"]["job"] == stalled["jobs"][0]["name"]
        metrics = qm.state.metrics
        await eventually(
            lambda: sample(metrics, "jobs_by_health", health="stalled"),
            lambda count: count == 2,  # both jobs were launched and never reported
            what="the stalled jobs counted",
        )
        assert sample(metrics, "queues_by_health", health="stalled") == 1
        assert "jobs_by_health" in (await qm.client.get("/metrics")).text
        await report(qm.state.settings, stalled, 1, datetime.now(UTC))
        heard = await qm.wait_for(queue_id, lambda q: q["jobs"][0]["seq"] == 1)
        assert health(heard)["state"] == "ok" and heard["jobs"][0]["status"] == "loading"
        silent = await qm.wait_for(queue_id, lambda q: health(q)["state"] == "stalled")
        assert health(silent)["since"] == heard["jobs"][0]["last_telemetry_at"]
        settings = qm.state.settings
    long_ago = datetime.now(UTC) - timedelta(seconds=30)
    await report(settings, silent, 2, long_ago)  # sent while the service was down
    async with app_with(kubeconfig=kubeconfig, stall_after_seconds=3.0, **cluster) as qm:
        assert health(await qm.queue(queue_id))["state"] == "stalled"
        backlog = await qm.wait_for(queue_id, lambda q: q["jobs"][0]["seq"] == 2)
        assert health(backlog)["state"] == "stalled", health(backlog)
        assert backlog["jobs"][0]["last_telemetry_at"].startswith(
            long_ago.strftime("%Y-%m-%dT%H:%M:%S")
        )
