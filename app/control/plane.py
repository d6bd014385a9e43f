"""Starts and stops the control plane in order: broker (embedded when none is configured),
bus, topics, outbox, dispatcher, fan-out, lag recorder, heartbeats, topic checker.

Kafka may be down when the service starts: connecting is the supervised task
`broker-connect`, retried with capped backoff until the broker answers; the topics are
then ensured and the Kafka tasks start. Until then readiness names the broker, events wait
in the outbox, and everything else (REST, the store, jobs) works. Every long-lived task
runs under the service's Supervisor.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import structlog

from app.aio import Backoff, Supervisor
from app.bus import make_bus
from app.bus.embedded import EmbeddedBroker
from app.config import Settings
from app.control.dispatcher import Dispatcher
from app.control.events import EventPublisher
from app.control.fanout import Fanout, heartbeats
from app.control.hub import Hub
from app.control.outbox import Outbox
from app.errors import QueueManagerError
from app.metrics import Metrics
from app.services.queue_service import QueueService
from app.services.stalls import StallWatch

log = structlog.get_logger(__name__)
EMBEDDED_SESSION_TIMEOUT_MS = 2000
"""The local broker joins a group in half the session timeout: keep start-up quick."""
BROKER_CONNECT = "broker-connect"
CONNECT_BACKOFF = (0.2, 5.0)
"""Retrying a broker that is down at start-up: quick at first, then every few seconds."""


async def start_broker(stack: AsyncExitStack, settings: Settings) -> Settings:
    """The configured broker, or an embedded one; returns settings that point at it.
    The embedded broker is ours: when it cannot start, start-up fails."""
    if settings.kafka_bootstrap_servers:
        return settings
    broker = EmbeddedBroker.from_settings(settings)
    bootstrap = await broker.start()
    stack.push_async_callback(broker.stop)
    log.info("embedded Kafka-compatible broker started", bootstrap=bootstrap)
    # Tansu answers InitProducerId with an error: no idempotent producers on it.
    update: dict[str, object] = {
        "kafka_bootstrap_servers": bootstrap,
        "kafka_enable_idempotence": False,
    }
    if "kafka_session_timeout_ms" not in settings.model_fields_set:
        update["kafka_session_timeout_ms"] = EMBEDDED_SESSION_TIMEOUT_MS
    return settings.model_copy(update=update)


class ControlPlane:
    def __init__(
        self, settings: Settings, metrics: Metrics, supervisor: Supervisor, service: QueueService
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.supervisor = supervisor
        self.bus = make_bus(settings)
        self.outbox = Outbox(self.bus, on_dropped=metrics.outbox_dropped.inc)
        self.hub = Hub(
            on_sent=metrics.ws_sent.inc,
            on_dropped=lambda reason: metrics.ws_dropped.labels(reason).inc(),
        )
        self.publisher = EventPublisher(
            self.outbox, settings.queue_events_topic, settings.queue_control_topic
        )
        service.feed.subscribe(self.publisher.on_change)
        service.stop_listeners.append(self.publisher.on_stop)
        self.fanout = Fanout(
            self.bus,
            self.hub,
            settings.queue_control_topic,
            settings.queue_events_topic,
            settings.kafka_max_message_bytes,
            on_rejected=metrics.ws_dropped.labels("rejected").inc,
        )
        self.dispatcher = Dispatcher(self.bus, service, self.outbox, settings, metrics)
        self.stalls = StallWatch(service, metrics)
        self.connected = asyncio.Event()
        """Set once the bus is up and the topics exist (the Kafka tasks then run)."""

    @property
    def topics(self) -> list[str]:
        s = self.settings
        return [s.queue_control_topic, s.queue_events_topic, s.queue_control_dlq_topic]

    def start(self) -> None:
        """Heartbeats and the stall checker at once; the Kafka tasks once the broker
        answers (in the background)."""
        every = self.settings.ws_heartbeat_seconds
        self.supervisor.spawn("heartbeat", lambda: heartbeats(self.hub, every))
        self.supervisor.spawn("ws-send-watchdog", self.hub.watch_sends)
        self.supervisor.spawn("stall-checker", self.stalls.run)
        self.supervisor.spawn(
            BROKER_CONNECT, self._connect, backoff=Backoff(*CONNECT_BACKOFF), until_done=True
        )

    async def _connect(self) -> None:
        await self.bus.start()
        await self._ensure_topics()
        log.info("connected to Kafka", bootstrap=self.settings.kafka_bootstrap_servers)
        self.supervisor.spawn("outbox", self.outbox.run)
        self.supervisor.spawn("dispatcher", self.dispatcher.run)
        self.supervisor.spawn("lag-recorder", self.dispatcher.record_lag_forever)
        self.supervisor.spawn("fanout", self.fanout.run)
        self.supervisor.spawn("topic-checker", self._keep_topics)
        self.connected.set()

    async def settle(self, timeout_seconds: float) -> None:
        """At shutdown, after the jobs ended: their final telemetry is applied and the
        events are sent, each within the bound."""
        if self.connected.is_set():
            if not await self.dispatcher.settle(timeout_seconds):
                log.warning("shutdown: queue-control not caught up", within=timeout_seconds)
            await self.outbox.drain(timeout_seconds)

    async def close(self) -> None:
        """After the supervisor stopped the tasks: close the producer."""
        await self.bus.stop()

    async def ping(self) -> None:
        await self.bus.ping(timeout=self.settings.health_timeout_seconds)

    async def _ensure_topics(self) -> None:
        await self.bus.ensure_topics(self.topics)

    async def _keep_topics(self) -> None:
        """A broker that restarted empty gets its topics back without our restart."""
        while True:
            await asyncio.sleep(self.settings.kafka_topic_check_seconds)
            try:
                await self._ensure_topics()
            except QueueManagerError as error:
                log.warning("cannot ensure topics", error=error.message)
