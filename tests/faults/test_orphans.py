"""One process per job attempt, always (issue 12, item 3).

Must hold: a child whose parent died before the parent-death signal was set does not start
(it checks its parent after setting the signal); a SIGKILLed service leaves no job process
behind; at start-up, recovery kills what a previous life of the service left running of a
job before it launches that job again.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from app.children import ORPHANED_EXIT_CODE, SETPRIV, tied_to_parent
from app.config import Settings
from app.launchers.leftovers import process_info, record_launch
from app.models.queues import QueueCreate
from app.services.pipeline import new_queue
from app.store.sqlite import SqliteQueueStore
from tests.faults.test_crash_safety import live_jobs
from tests.fixtures.app import running_app, scripted
from tests.fixtures.eventually import eventually
from tests.seed_examples import BASIC

pytestmark = pytest.mark.timeout(60)
SLOW = {"loader-producer": scripted("sleep", "120"), "arango-connector": scripted("sleep", "120")}
SPAWN_AND_WAIT = (
    "import json, subprocess, sys; sys.exit(subprocess.run(json.loads(sys.argv[1])).returncode)"
)
SPAWN_AND_LEAVE = (
    "import json, os, subprocess, sys;"
    "child = subprocess.Popen(json.loads(sys.argv[1]), env=json.loads(sys.argv[2]),"
    " start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL);"
    "print(child.pid, os.getpid())"
)


def test_a_child_whose_parent_is_not_its_spawner_does_not_start(tmp_path: Path) -> None:
    """What happens when we die between the fork and the parent-death signal: the child is
    adopted by someone else. Played here by another process spawning our argv."""
    assert SETPRIV, "setpriv (util-linux) is needed: it is in every Debian image"
    ran = tmp_path / "ran"
    argv, options = tied_to_parent([sys.executable, "-c", f"open({str(ran)!r}, 'w')"])
    assert options == {}
    adopted = subprocess.run(
        [sys.executable, "-c", SPAWN_AND_WAIT, json.dumps(argv)],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert adopted.returncode == ORPHANED_EXIT_CODE, adopted
    assert "gone before the start: not starting" in adopted.stderr
    assert not ran.exists()
    assert subprocess.run(argv, check=False, timeout=30).returncode == 0  # ours: it runs
    assert ran.exists()


def leave_running(argv: list[str], env: dict[str, str]) -> tuple[int, int]:
    """Start `argv` from a process that exits at once: the pid of the orphan left running,
    and of the (gone) process that started it."""
    out = subprocess.run(
        [sys.executable, "-c", SPAWN_AND_LEAVE, json.dumps(argv), json.dumps(env)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.split()
    return int(out[0]), int(out[1])


async def test_recovery_kills_a_leftover_process_before_launching_the_job_again(
    settings_for: Callable[..., Settings],
) -> None:
    settings = settings_for(targets=SLOW)
    queue = new_queue(QueueCreate.model_validate(BASIC), str(uuid.uuid4()))
    store = SqliteQueueStore(settings.database_path)
    await store.open()
    await store.create(queue)  # recorded; the service died before it recorded the launches
    await store.close()
    job = queue.jobs[0]
    data_dir = settings.data_dir.resolve()
    env = {**os.environ, "QUEUE_ID": queue.id, "JOB_NAME": job.name, "DATA_DIR": str(data_dir)}
    argv = [sys.executable, "-m", "tests.jobs.scripted", "sleep", "120"]
    stray, dead_service = leave_running(argv, env)
    record = settings.jobs_dir / queue.id / f"{job.name}.pid"
    record.parent.mkdir(parents=True)
    record_launch(record, stray, service=dead_service)
    assert live_jobs(data_dir)[job.name] == 1
    async with running_app(settings) as qm:
        info = process_info(stray)
        assert info is None or info.state == "Z", "the leftover was killed before the launch"
        live = await eventually(lambda: live_jobs(data_dir), lambda seen: len(seen) == 2)
        assert live == {job.name: 1, queue.jobs[1].name: 1}
        relaunched = await qm.queue(queue.id)
        assert [j["status"] for j in relaunched["jobs"]] == ["starting", "starting"]
        assert relaunched["jobs"][0]["launcher_ref"] != str(stray)


async def test_a_job_of_a_live_service_is_never_taken_for_a_leftover(
    settings_for: Callable[..., Settings], tmp_path: Path
) -> None:
    """A launch record whose process is still the child of the service that launched it
    belongs to that (live) service: recovery elsewhere leaves it alone."""
    settings = settings_for(targets=SLOW)
    queue = new_queue(QueueCreate.model_validate(BASIC), str(uuid.uuid4()))
    store = SqliteQueueStore(settings.database_path)
    await store.open()
    await store.create(queue)
    await store.close()
    job = queue.jobs[0]
    env = {**os.environ, "QUEUE_ID": queue.id, "JOB_NAME": job.name}
    ours = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "tests.jobs.scripted", "sleep", "120"],
        env=env,
        start_new_session=True,
    )
    try:
        record = settings.jobs_dir / queue.id / f"{job.name}.pid"
        record.parent.mkdir(parents=True)
        record_launch(record, ours.pid)  # launched by this (live) process
        async with running_app(settings):
            assert ours.returncode is None, "a live service's job was killed"
    finally:
        ours.kill()
        await ours.wait()
