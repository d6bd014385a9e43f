"""Hostile input: oversized, overlong, too many, too fast, or made to reach a shell.

Must hold: an oversized body gets 413 in the envelope (declared or streamed); huge lists and
strings are refused with 422 or 413, never a 5xx; a WebSocket client that sends too large
or too many messages is closed with 1008; a queue-control message over
KAFKA_MAX_MESSAGE_BYTES is dead-lettered as too_large and the next message is processed;
shell metacharacters in any user-supplied name are refused at validation, and every job
name is a DNS-1123 label; the local launcher runs an argv list, so the symbol reaches the
job only as data in its environment.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app.api.ws import MAX_MESSAGE_BYTES, MESSAGES_PER_SECOND
from app.bus.kafka import KafkaBus
from app.config import Settings
from app.models.queues import QueueCreate
from app.naming import job_name
from tests.fixtures.app import scripted
from tests.fixtures.kafka_reader import read_topic
from tests.fixtures.wsclient import listening
from tests.integration.test_control_plane import telemetry, until_stored
from tests.integration.test_ws_fanout import flood
from tests.integration.test_ws_fanout import report as fanout_report
from tests.seed_examples import BASIC, HISTORICAL, REALTIME

HARMLESS = {t: scripted("exit", "0") for t in ("loader-producer", "arango-connector")}
SLOW = {"loader-producer": scripted("sleep", "30"), "arango-connector": scripted("sleep", "30")}
MB = 1_048_576
DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
SHELL = [
    "BTC;rm -rf /",
    "BTC$(reboot)",
    "BTC`id`",
    "BTC|nc x 1",
    "BTC&&id",
    "BTC\nid",
    "BTC>/etc/x",
    "../../etc",
    "BTC' OR '1",
]


def assert_envelope(response: Any, *codes: int) -> dict[str, Any]:
    assert response.status_code in codes, (response.status_code, response.text[:300])
    body = dict(response.json())
    assert body["status"] == "error" and body["message"], body
    return body


async def test_oversized_bodies_get_413_in_the_envelope_declared_or_streamed(
    app_with: Any,
) -> None:
    """Over MAX_BODY_BYTES: 413 whether the length is declared up front or the body streams
    in chunks without a Content-Length; the service still answers afterwards."""
    big = json.dumps({**BASIC, "pad": "x" * (2 * MB)}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 65_536):
            yield big[start : start + 65_536]

    async with app_with(targets=HARMLESS) as qm:
        declared = await qm.client.post(
            "/queues/start", content=big, headers={"content-type": "application/json"}
        )
        assert "1048576" in assert_envelope(declared, 413)["message"]
        streamed = await qm.client.post(
            "/queues/start", content=chunks(), headers={"content-type": "application/json"}
        )
        assert_envelope(streamed, 413)
        assert (await qm.client.get("/queues")).status_code == 200


HUGE: dict[str, dict[str, Any]] = {
    "10k requests": {
        **BASIC,
        "requests": [{"target": "loader-producer", "type": f"api_t{i}"} for i in range(10_000)],
    },
    "10k symbols": {**BASIC, "symbols": [f"S{i}USDT" for i in range(10_000)]},
    "1 MB symbol": {**BASIC, "symbol": "B" * MB},
    "1 MB time range": {**BASIC, "time_range": "2" * MB},
    "deep nesting": {
        **BASIC,
        "requests": [
            {
                "target": "graph-builder",
                "type": "gnn_graph",
                "collection_inputs": [[[[["x"]]]]] * 50,
                "collection_output": "o",
            }
        ],
    },
    "100 kB collection": {
        **BASIC,
        "requests": [
            {"target": "arango-connector", "type": "api_candles_5m", "collection": "c" * 100_000}
        ],
    },
}


async def test_huge_lists_and_strings_are_refused_never_a_500(app_with: Any) -> None:
    """Bounded lists and strings: 422 (naming a field) or 413, never a 5xx; nothing stored."""
    async with app_with(targets=HARMLESS) as qm:
        for name, body in HUGE.items():
            response = await qm.client.post("/queues/start", json=body)
            refused = assert_envelope(response, 413, 422)
            assert response.status_code == 413 or refused["data"][0]["field"], name
        listed = await qm.client.get("/queues")
        assert listed.headers["x-total-count"] == "0"


async def test_shell_metacharacters_in_names_are_refused_at_validation(app_with: Any) -> None:
    """A symbol, a ticker, a request type, or a collection name carrying shell syntax is
    refused with 422 naming the field, before anything is recorded or launched."""
    async with app_with(targets=HARMLESS) as qm:
        for hostile in SHELL:
            for field, body in _carrying(hostile).items():
                response = await qm.client.post("/queues/start", json=body)
                problems = assert_envelope(response, 422)["data"]
                assert any(p["field"] == field for p in problems), (hostile, field, problems)
        assert (await qm.client.get("/queues")).headers["x-total-count"] == "0"


def _carrying(hostile: str) -> dict[str, dict[str, Any]]:
    return {
        "symbol": {**BASIC, "symbol": hostile},
        "symbols[0]": {**BASIC, "symbol": None, "symbols": [hostile]},
        "requests[0].type": {**BASIC, "requests": [{"target": "loader-producer", "type": hostile}]},
        "requests[0].collection": {
            **BASIC,
            "requests": [
                {"target": "arango-connector", "type": "api_candles_5m", "collection": hostile}
            ],
        },
    }


def test_job_names_are_dns_labels_whatever_the_ids() -> None:
    """Job names come from validated fields through app.naming.job_name: a DNS-1123 label
    of at most 63 characters even for hostile queue ids, targets and types."""
    for create in (BASIC, HISTORICAL, REALTIME):
        queue = QueueCreate.model_validate(create)
        for request in queue.requests:
            assert DNS_1123_LABEL.match(job_name("b927fa13-3b22", request.target, request.type))
    for hostile in [*SHELL, "x" * 500, "--", "Ünïcode", "-a-", ""]:
        name = job_name(hostile, hostile, hostile)
        assert DNS_1123_LABEL.match(name) and len(name) <= 63, (hostile, name)


async def test_the_symbol_reaches_a_job_only_as_environment_data(app_with: Any) -> None:
    """The local launcher runs an argv list, never a shell: the job's argv is exactly the
    registry's command, and the (validated) symbol arrives verbatim in SYMBOL."""
    async with app_with(
        targets={"loader-producer": scripted("env"), "arango-connector": scripted("exit", "0")}
    ) as qm:
        queue_id = await qm.start({**BASIC, "symbol": "BTCUSDT"})
        await qm.wait_for(queue_id, lambda q: q["status"] in ("finished", "error"))
        log = (
            await qm.client.get(f"/queues/{queue_id}/logs", params={"job": "loader-producer"})
        ).json()["data"]["lines"]
        assert log[0].startswith("scripted job env 0 "), log
        assert json.loads(log[1])["SYMBOL"] == "BTCUSDT"


async def test_websocket_messages_too_large_are_closed_with_1008(served_with: Any) -> None:
    """A message over MAX_MESSAGE_BYTES closes that client with 1008; another client is
    untouched and still served."""
    async with (
        served_with(targets=HARMLESS) as served,
        connect(served.ws_url, max_size=None) as other,
        connect(served.ws_url, max_size=None) as hostile,
    ):
        await other.recv()
        await hostile.recv()
        await hostile.send(
            json.dumps({"action": "subscribe", "queue_ids": ["x" * (MAX_MESSAGE_BYTES + 1)]})
        )
        await _closed_with(hostile, 1008)
        await other.send(json.dumps({"action": "subscribe", "queue_ids": ["q1"]}))
        assert json.loads(await asyncio.wait_for(other.recv(), 5))["event"] == "subscribed"


async def test_websocket_message_floods_are_closed_with_1008(served_with: Any) -> None:
    """More than MESSAGES_PER_SECOND messages in a second close the client with 1008; up to
    the limit each gets its answer."""
    async with (
        served_with(targets=HARMLESS) as served,
        connect(served.ws_url, max_size=None) as hostile,
    ):
        await hostile.recv()
        message = json.dumps({"action": "subscribe", "queue_ids": ["q1"]})
        for _ in range(MESSAGES_PER_SECOND * 3):
            try:
                await hostile.send(message)
            except ConnectionClosed:
                break
        await _closed_with(hostile, 1008)


async def _closed_with(connection: Any, code: int) -> None:
    async with asyncio.timeout(10):
        with pytest.raises(ConnectionClosed):
            while True:
                await connection.recv()
    assert connection.close_code == code, (connection.close_code, connection.close_reason)


async def test_oversized_kafka_message_is_dead_lettered_and_the_next_one_applied(
    served_with: Any,
) -> None:
    """A queue-control message over KAFKA_MAX_MESSAGE_BYTES goes to the dead-letter topic
    with reason too_large (its head only: the copy must fit the producer's own limit), and
    the telemetry right behind it is applied."""
    async with served_with(targets=SLOW, kafka_max_message_bytes=4096) as served:
        await served.dispatcher_ready()
        queue = await served.state.queues.start(QueueCreate.model_validate(BASIC))
        oversized = {**telemetry(queue, 1, records=1), "stats": {"pad": "x" * 8000}}
        settings = served.state.settings
        bus = KafkaBus(
            Settings(_env_file=None, kafka_bootstrap_servers=settings.kafka_bootstrap_servers)
        )
        await bus.start()
        try:
            for message in (oversized, telemetry(queue, 2, records=22)):
                await bus.send(settings.queue_control_topic, queue.id, orjson.dumps(message))
        finally:
            await bus.stop()
        stored = await until_stored(served, queue.id, lambda q: q.jobs[0].seq == 2)
        assert stored.records_written == 22
        letters = await read_topic(
            settings.kafka_bootstrap_servers or "",
            settings.queue_control_dlq_topic,
            lambda got: bool(got),
            within=15,
        )
        raw = orjson.dumps(oversized)
        assert len(letters) == 1 and isinstance(letters[0].value, bytes)
        assert raw.startswith(letters[0].value) and len(letters[0].value) < len(raw)
        headers = letters[0].headers
        assert headers["dlq-reason"] == b"too_large"
        assert headers["dlq-truncated-from"] == str(len(raw)).encode()
        assert headers["source-topic"] == settings.queue_control_topic.encode()
        async with httpx.AsyncClient(base_url=served.url) as http:
            metrics = (await http.get("/metrics")).text
        assert 'dead_lettered_total{reason="too_large"} 1.0' in metrics


async def test_out_of_range_integers_are_dead_lettered_and_the_job_goes_on(
    served_with: Any,
) -> None:
    """`"seq": 10**30` (msgspec alone takes any integer) once froze a job: every later report
    had a lower seq. Integers beyond int64 are dead-lettered as invalid; a genuine report
    right behind them is applied, and a huge number inside `stats` (not stored, but sent to
    WebSocket clients) does not stop the fan-out."""
    async with served_with(targets=SLOW) as served:
        await served.dispatcher_ready()
        await served.fanout_ready()
        queue = await served.state.queues.start(QueueCreate.model_validate(BASIC))
        frozen = orjson.dumps(telemetry(queue, 1, records=1)).replace(
            b'"seq":1', b'"seq":1' + b"0" * 30
        )
        too_many = orjson.dumps(telemetry(queue, 1, records=2**63))
        huge_stats = orjson.dumps({**telemetry(queue, 1, records=3)}).replace(
            b'"seq":1', b'"stats":{"n":1' + b"0" * 30 + b'},"seq":1'
        )
        settings = served.state.settings
        bus = KafkaBus(
            Settings(_env_file=None, kafka_bootstrap_servers=settings.kafka_bootstrap_servers)
        )
        async with listening(served.ws_url) as ws:
            await bus.start()
            try:
                for raw in (
                    frozen,
                    too_many,
                    huge_stats,
                    orjson.dumps(telemetry(queue, 2, records=22)),
                ):
                    await bus.send(settings.queue_control_topic, queue.id, raw)
            finally:
                await bus.stop()
            stored = await until_stored(served, queue.id, lambda q: q.jobs[0].seq == 2)
            await ws.wait_for(lambda _: any(e["seq"] == 2 for e in ws.events("job.telemetry")))
        assert stored.records_written == 22
        letters = await read_topic(
            settings.kafka_bootstrap_servers or "",
            settings.queue_control_dlq_topic,
            lambda got: len(got) >= 2,
            within=15,
        )
        assert len(letters) == 2
        async with httpx.AsyncClient(base_url=served.url) as http:
            metrics = (await http.get("/metrics")).text
        assert 'dead_lettered_total{reason="invalid"} 2.0' in metrics


async def test_the_fanout_shows_no_telemetry_the_dispatcher_sets_aside(served_with: Any) -> None:
    """Telemetry over KAFKA_MAX_MESSAGE_BYTES (for a queue nobody knows, as in the issue) is
    dead-lettered by the dispatcher; the fan-out, with the same decoder and limit, does not
    send it to WebSocket clients either. The next valid report is shown."""
    async with served_with(targets=SLOW, kafka_max_message_bytes=4096) as served:
        await served.fanout_ready()
        async with listening(served.ws_url) as ws:
            oversized = fanout_report("unknown-queue", 1, stats_bytes=8000)
            producer = served.state.settings.model_copy(  # the default, larger message limit
                update={"kafka_max_message_bytes": Settings(_env_file=None).kafka_max_message_bytes}
            )
            assert producer.kafka_max_message_bytes > len(oversized)
            await flood(producer, [oversized, fanout_report("unknown-queue", 2)], "k")
            await ws.wait_for(lambda _: bool(ws.events("job.telemetry")))
            assert [m["seq"] for m in ws.events("job.telemetry")] == [2]
        rejected = served.state.metrics.registry.get_sample_value(
            "websocket_events_dropped_total", {"reason": "rejected"}
        )
        assert rejected == 1
