"""Starts and stops the control plane in order: broker (embedded when none is configured),
bus, topics, outbox, dispatcher, fan-out, heartbeats. Every task is supervised."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import structlog

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
from app.services.tasks import TaskGroup

log = structlog.get_logger(__name__)
EMBEDDED_SESSION_TIMEOUT_MS = 2000
"""The local broker joins a group in half the session timeout: keep start-up quick."""


async def start_broker(stack: AsyncExitStack, settings: Settings) -> Settings:
    """The configured broker, or an embedded one; returns settings that point at it."""
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
    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.bus = make_bus(settings)
        self.outbox = Outbox(self.bus, on_dropped=metrics.outbox_dropped.inc)
        self.hub = Hub(
            on_sent=metrics.ws_sent.inc,
            on_dropped=lambda reason: metrics.ws_dropped.labels(reason).inc(),
        )
        self.publisher = EventPublisher(
            self.outbox, settings.queue_events_topic, settings.queue_control_topic
        )
        self.fanout = Fanout(
            self.bus,
            self.hub,
            settings.queue_control_topic,
            settings.queue_events_topic,
            settings.kafka_max_message_bytes,
            on_rejected=metrics.ws_dropped.labels("rejected").inc,
        )
        self.dispatcher: Dispatcher | None = None
        self._tasks = TaskGroup("control-plane")

    @property
    def topics(self) -> list[str]:
        s = self.settings
        return [s.queue_control_topic, s.queue_events_topic, s.queue_control_dlq_topic]

    async def start(self, service: QueueService) -> None:
        await self.bus.start()
        await self._ensure_topics()
        service.feed.subscribe(self.publisher.on_change)
        service.stop_listeners.append(self.publisher.on_stop)
        self.dispatcher = Dispatcher(self.bus, service, self.outbox, self.settings, self.metrics)
        self._tasks.spawn(self.outbox.run(), "outbox")
        self._tasks.spawn(self.dispatcher.run(), "dispatcher")
        self._tasks.spawn(self.fanout.run(), "fanout")
        self._tasks.spawn(heartbeats(self.hub, self.settings.ws_heartbeat_seconds), "heartbeat")
        self._tasks.spawn(self._keep_topics(), "topics")
        self._tasks.spawn(StallWatch(service, self.metrics).run(), "stalls")

    async def stop(self) -> None:
        await self.outbox.drain(timeout_seconds=2.0)
        await self._tasks.close()
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
