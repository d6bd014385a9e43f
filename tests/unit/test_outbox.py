"""The outbox never drops silently: what it cannot take is counted in a metric."""

from __future__ import annotations

from app.bus import make_bus
from app.config import Settings
from app.control.outbox import ENVELOPE_BYTES, Outbox
from app.metrics import Metrics
from tests.fixtures.metrics import sample

LIMIT_BYTES = 4096


def outbox(metrics: Metrics, limit: int) -> Outbox:
    settings = Settings(
        _env_file=None,
        kafka_bootstrap_servers="127.0.0.1:9",  # never reached: put() does not send
        kafka_max_message_bytes=LIMIT_BYTES,
    )
    bus = make_bus(settings)
    return Outbox(bus, limit=limit, on_dropped=metrics.outbox_dropped.inc)


def test_a_full_outbox_counts_what_it_drops() -> None:
    metrics = Metrics()
    box = outbox(metrics, limit=2)
    for n in range(5):
        box.put("topic", "key", f"message {n}".encode())
    assert sample(metrics, "outbox_dropped_total") == 3


def test_a_message_over_the_size_limit_is_counted_not_queued() -> None:
    metrics = Metrics()
    box = outbox(metrics, limit=10)
    box.put("topic", None, b"x" * (LIMIT_BYTES - ENVELOPE_BYTES + 1))
    box.put("topic", None, b"fits")
    assert sample(metrics, "outbox_dropped_total") == 1
