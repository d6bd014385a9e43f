"""The Binance stream loader writing to the embedded broker, next to a bare aiokafka producer.

Both run in the same run against the same Tansu (app/bus/embedded.py), each into its own
topic made the same way. The loader is the real path: the stream job (receive, parse, gap
check, normalise, batch) and its KafkaRecordSink (encode, keyed send, acknowledged batch).
The baseline is an AIOKafkaProducer with the loader's producer settings (acks, linger,
batch size, compression, idempotence: KafkaBus.producer_config) sending the same records,
pre-encoded, in batches of the same size, each acknowledged before the next is sent, as
the sink waits for its batch (one future at a time, as KafkaBus.send_many does).
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from functools import partial
from pathlib import Path

import msgspec
import orjson
from aiokafka import AIOKafkaProducer

from app.bus.embedded import EmbeddedBroker
from app.bus.kafka import KafkaBus
from app.config import KafkaSettings
from app.logging import configure_logging
from app.workers.binance.stream_names import normalizer_for
from app.workers.binance.wire import AggTradeEvent
from app.workers.kafka_sink import KafkaRecordSink
from bench.loaders_binance import Rate, in_turns, loader_rate, measure
from bench.loaders_feed import AggTradeFeed

BATCH = 1000
"""Records per send: the loader's batch size (BinanceTuning.batch_size)."""


def bare_messages() -> list[tuple[bytes, bytes]]:
    """(key, value) of one round of the feed, normalised and encoded as the sink does."""
    normalize = normalizer_for("aggTrade")
    events = [msgspec.convert(event, AggTradeEvent) for event in AggTradeFeed().events()]
    records = [normalize("binance", event, 0) for event in events]
    return [(record["symbol"].encode(), orjson.dumps(record)) for record in records]


async def bare_rate(bus: KafkaBus, topic: str, seconds: float) -> Rate:
    """The baseline: a bare producer sending acknowledged batches of the same records."""
    producer = AIOKafkaProducer(**bus.producer_config)
    await producer.start()
    messages, sent = bare_messages(), 0

    async def pour() -> None:
        nonlocal sent
        while True:
            for first in range(0, len(messages), BATCH):
                batch = messages[first : first + BATCH]
                futures = [await producer.send(topic, v, key=k) for k, v in batch]
                for future in futures:  # as KafkaBus.send_many waits: one at a time
                    if not future.done():
                        await asyncio.wait((future,))
                    future.result()  # a failure ends the benchmark
                sent += len(batch)

    task = asyncio.create_task(pour())
    try:
        return await measure(lambda: sent, seconds)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await producer.stop()


async def kafka_rates(url: str, seconds: float) -> tuple[Rate, Rate]:
    """(loader into the embedded broker, bare producer) records/s."""
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        broker = EmbeddedBroker(Path(tmp) / "tansu.log")
        settings = KafkaSettings(
            kafka_bootstrap_servers=await broker.start(),
            kafka_enable_idempotence=False,  # the embedded Tansu has no idempotent producers
        )
        bus = KafkaBus(settings)
        try:
            await bus.start()
            tag = uuid.uuid4().hex[:8]
            bare_topic, loader_topic = f"bench-bare-{tag}", f"bench-loader-{tag}"
            await bus.ensure_topics([bare_topic, loader_topic])
            return await in_turns(
                partial(sink_rate, url, bus, loader_topic),
                partial(bare_rate, bus, bare_topic),
                seconds,
            )
        finally:
            await bus.stop()
            await broker.stop()


async def sink_rate(url: str, bus: KafkaBus, topic: str, seconds: float) -> Rate:
    """The stream job writing through its KafkaRecordSink into `topic`."""
    sink = KafkaRecordSink(bus, topic)
    return await loader_rate(url, seconds, sink, lambda: sink.delivered)
