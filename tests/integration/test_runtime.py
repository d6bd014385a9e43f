"""The job runtime in-process on the live embedded broker: telemetry, sink, stops, errors."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from app.bus.kafka import KafkaBus
from app.workers.base import JobContext
from app.workers.demo import main as demo_main
from app.workers.runtime import RuntimeOptions, run_job_async
from tests.fixtures.jobs import JobTopics, read_telemetry, share_command, stop_command
from tests.fixtures.kafka_reader import read_topic

FAST = RuntimeOptions(stop_timeout=0.5, broker_connect_timeout=3, telemetry_retry_seconds=3)


@pytest.fixture
def control(bus: KafkaBus) -> KafkaBus:
    """The producer playing the queue-manager: it sends commands on queue-control."""
    return bus


async def wait_until_stopped(ctx: JobContext) -> None:
    await ctx.stop_requested.wait()


async def test_demo_job_reports_starting_loading_finished_with_rising_seq(
    topics: JobTopics,
) -> None:
    env = topics.env({"records": 25, "batch": 10, "interval_ms": 120})
    assert await asyncio.wait_for(run_job_async(demo_main, env, FAST), 8) == 0
    telemetry = await read_telemetry(topics)
    statuses = [t["status"] for t in telemetry]
    assert statuses[:2] == ["starting", "loading"]
    assert statuses[-1] == "finished" and statuses.count("finished") == 1
    seqs = [t["seq"] for t in telemetry]
    assert seqs[0] == 0 and all(a < b for a, b in itertools.pairwise(seqs))
    assert telemetry[-1]["records_written"] == 25
    assert telemetry[-1]["finished_at"] is not None


async def test_sink_batches_arrive_keyed_by_symbol(topics: JobTopics) -> None:
    env = topics.env({"records": 30, "batch": 7})
    assert await asyncio.wait_for(run_job_async(demo_main, env, FAST), 8) == 0
    records = await read_topic(topics.bootstrap, topics.records, lambda m: len(m) >= 30)
    assert sorted(m.value["seq"] for m in records) == list(range(30))
    assert all(m.key == m.value["symbol"] for m in records)
    assert {m.key for m in records} == {"BTCUSDT", "ETHUSDT"}


async def test_a_raising_entrypoint_reports_error_and_exits_1(topics: JobTopics) -> None:
    env = topics.env({"records": 10, "batch": 2, "fail": "exchange said no"})
    assert await asyncio.wait_for(run_job_async(demo_main, env, FAST), 8) == 1
    final = (await read_telemetry(topics))[-1]
    assert final["status"] == "error"
    assert final["error_message"] == "exchange said no"
    assert final["records_written"] == 6


async def test_a_stop_command_for_the_queue_stops_it(topics: JobTopics, control: KafkaBus) -> None:
    job = asyncio.create_task(run_job_async(wait_until_stopped, topics.env(), FAST))
    await read_telemetry(topics, until_status={"loading"})
    await control.send_json(topics.control, topics.queue_id, stop_command(topics.queue_id))
    assert await asyncio.wait_for(job, 5) == 0
    assert (await read_telemetry(topics))[-1]["status"] == "stopped"


async def test_a_stop_sent_before_the_job_listens_is_not_missed(
    topics: JobTopics, control: KafkaBus
) -> None:
    job = asyncio.create_task(run_job_async(wait_until_stopped, topics.env(), FAST))
    await control.send_json(topics.control, topics.queue_id, stop_command(topics.queue_id))
    assert await asyncio.wait_for(job, 6) == 0
    assert (await read_telemetry(topics))[-1]["status"] == "stopped"


async def test_a_stop_for_another_queue_is_ignored(topics: JobTopics, control: KafkaBus) -> None:
    stopped = asyncio.Event()

    async def note_stop(ctx: JobContext) -> None:
        await ctx.stop_requested.wait()
        stopped.set()

    job = asyncio.create_task(run_job_async(note_stop, topics.env(), FAST))
    await read_telemetry(topics, until_status={"loading"})
    # Same key as ours: same partition, so it is read before our own stop below.
    await control.send_json(topics.control, topics.queue_id, stop_command("another-queue"))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(stopped.wait(), 0.7)
    await control.send_json(topics.control, topics.queue_id, stop_command(topics.queue_id))
    assert await asyncio.wait_for(job, 5) == 0


async def test_weight_shares_reach_the_job_newest_version_first(
    topics: JobTopics, control: KafkaBus
) -> None:
    """A share in the environment at start, then newer ones over queue-control; a late copy
    of an older share changes nothing; telemetry reports the share the job paces to."""
    shares: list[int] = []

    async def watch_share(ctx: JobContext) -> None:
        shares.append(ctx.weight_budget.share)
        while ctx.weight_budget.version < 7:
            await asyncio.sleep(0.02)
        shares.append(ctx.weight_budget.share)
        await ctx.stop_requested.wait()

    env = topics.env(BINANCE_REST_WEIGHT_SHARE="4800", BINANCE_REST_WEIGHT_SHARE_VERSION="3")
    job = asyncio.create_task(run_job_async(watch_share, env, FAST))
    await read_telemetry(topics, until_status={"loading"})
    for share, version in ((2400, 2), (1200, 7), (4800, 5)):  # 2 and 5 come too late
        command = share_command(topics.queue_id, env.job_name, share, version)
        await control.send_json(topics.control, topics.queue_id, command)
    other = share_command(topics.queue_id, "another-job", 100, 99)
    await control.send_json(topics.control, topics.queue_id, other)
    await control.send_json(topics.control, topics.queue_id, stop_command(topics.queue_id))
    assert await asyncio.wait_for(job, 5) == 0
    assert shares == [4800, 1200]
    final = (await read_telemetry(topics))[-1]
    assert final["rest_weight"]["share"] == 1200 and final["rest_weight"]["version"] == 7


async def test_an_entrypoint_deaf_to_stop_is_cancelled_after_stop_timeout(
    topics: JobTopics, control: KafkaBus
) -> None:
    env = topics.env({"records": 1000, "batch": 5, "interval_ms": 50, "ignore_stop": True})
    job = asyncio.create_task(run_job_async(demo_main, env, FAST))
    await read_telemetry(topics, until_status={"loading"})
    await control.send_json(topics.control, topics.queue_id, stop_command(topics.queue_id))
    sent = time.monotonic()
    assert await asyncio.wait_for(job, 5) == 0
    assert time.monotonic() - sent < 0.5 + 1.5
    final = (await read_telemetry(topics))[-1]
    assert final["status"] == "stopped"
    records = await read_topic(
        topics.bootstrap, topics.records, lambda m: len(m) >= final["records_written"]
    )
    assert len(records) >= final["records_written"] > 0


async def test_progress_stats_and_warnings_reach_telemetry(topics: JobTopics) -> None:
    async def chatty(ctx: JobContext) -> None:
        ctx.progress(7, "2024-06-01T00:00:00Z")
        ctx.set_stats({"connections": 2})  # type: ignore[attr-defined]
        ctx.warn("stream silent for 30 s")

    assert await asyncio.wait_for(run_job_async(chatty, topics.env(), FAST), 8) == 0
    final = (await read_telemetry(topics))[-1]
    assert final["records_written"] == 7
    assert final["last_loaded_timestamp"] == "2024-06-01T00:00:00Z"
    assert final["stats"] == {"connections": 2, "warnings": ["stream silent for 30 s"]}


async def test_an_unreachable_broker_gives_exit_1_within_the_bound(topics: JobTopics) -> None:
    env = topics.env(kafka_bootstrap_servers="127.0.0.1:1")
    options = RuntimeOptions(broker_connect_timeout=1.0)
    started = time.monotonic()
    assert await asyncio.wait_for(run_job_async(demo_main, env, options), 6) == 1
    assert time.monotonic() - started < 4


async def test_a_record_that_is_not_json_is_refused_clearly(topics: JobTopics) -> None:
    async def bad_record(ctx: JobContext) -> None:
        await ctx.sink.send([{"symbol": "BTCUSDT", "when": object()}])

    assert await asyncio.wait_for(run_job_async(bad_record, topics.env(), FAST), 8) == 1
    final = (await read_telemetry(topics))[-1]
    assert final["status"] == "error"
    assert "not JSON-serializable" in final["error_message"]
