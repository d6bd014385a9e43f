"""The job runtime: run one job entrypoint with telemetry, stop handling and a clean exit.

`python -m app.workers TARGET` calls `run_job(entrypoint)`. The runtime connects to Kafka
(retrying, bounded), reports `starting` and `loading`, then progress every interval, and
a final `finished`, `stopped` or `error`. SIGTERM/SIGINT or a `stop` command for the queue
asks the entrypoint to return; after STOP_TIMEOUT it is cancelled. Exit code
(app/exit_codes.py): 0 finished or stopped, 1 failed, 2 the job cannot start as configured
(an invalid environment, or InvalidInput while connecting: CA file, SASL credentials).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import structlog
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.aio import OwnedTasks, cancel_and_wait, unless_stopped
from app.bus import Bus, make_bus
from app.config import describe_errors
from app.errors import BrokerUnavailable, InvalidInput, QueueManagerError
from app.exit_codes import ExitCode
from app.logging import configure_logging
from app.models.status import Status
from app.retries import retrying
from app.workers.base import JobContext, JobEnv, RecordSink
from app.workers.gaps import GapSummary
from app.workers.kafka_sink import KafkaRecordSink
from app.workers.stop_watch import StopWatch
from app.workers.telemetry import TELEMETRY, TelemetryReporter
from app.workers.weight_budget import WeightBudget

Entrypoint = Callable[[JobContext], Awaitable[None]]
log = structlog.get_logger("app.workers.runtime")


class RuntimeOptions(BaseSettings):
    """Runtime bounds, from the environment (STOP_TIMEOUT=5 etc.)."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    stop_timeout: float = Field(default=5.0, ge=0, le=3600)
    broker_connect_timeout: float = Field(default=30.0, gt=0, le=3600)
    sink_retry_seconds: float = Field(default=30.0, gt=0, le=3600)
    telemetry_retry_seconds: float = Field(default=10.0, gt=0, le=3600)
    flush_timeout: float = Field(default=10.0, gt=0, le=3600)
    stop_lookback_seconds: float = Field(default=2.0, ge=0, le=3600)


@dataclass
class RuntimeContext:
    """The JobContext the runtime hands to an entrypoint."""

    env: JobEnv
    stop_requested: asyncio.Event
    sink: RecordSink
    reporter: TelemetryReporter

    @property
    def weight_budget(self) -> WeightBudget:
        return self.reporter.weight_budget

    def progress(self, records_written: int, last_loaded_timestamp: str | None = None) -> None:
        self.reporter.progress(records_written, last_loaded_timestamp)

    def warn(self, message: str) -> None:
        self.reporter.warn(message)

    def set_stats(self, stats: dict[str, Any]) -> None:
        self.reporter.set_stats(stats)

    def retrying(
        self,
        key: str,
        attempt: int,
        error: str,
        wait_seconds: float,
        max_attempts: int | None = None,
    ) -> None:
        self.reporter.retrying(key, attempt, error, wait_seconds, max_attempts)

    def recovered(self, key: str) -> None:
        self.reporter.recovered(key)

    def report_gaps(self, summary: GapSummary) -> None:
        self.reporter.report_gaps(summary)


@dataclass(frozen=True)
class Outcome:
    status: Status
    error_message: str | None = None

    @property
    def exit_code(self) -> int:
        return ExitCode.FAILED if self.status is Status.ERROR else ExitCode.OK


def run_job(entrypoint: Entrypoint) -> NoReturn:
    """Process entry: logs to stderr, env from the process, exit with the job's code.

    The log is the service's setup (app/logging.py); JSON unless a person runs the job in a
    terminal, since the logs endpoint reads it back."""
    configure_logging()
    try:
        env, options = JobEnv(), RuntimeOptions()
    except ValidationError as error:
        for line in describe_errors(error):
            log.error("invalid job environment", problem=line)
        sys.exit(ExitCode.BAD_CONFIG)
    configure_logging(env.log_level)
    sys.exit(asyncio.run(run_job_async(entrypoint, env, options, handle_signals=True)))


async def run_job_async(
    entrypoint: Entrypoint, env: JobEnv, options: RuntimeOptions, *, handle_signals: bool = False
) -> int:
    """Run one job to its end; returns the process exit code."""
    stop = asyncio.Event()
    since_ms = int((time.time() - options.stop_lookback_seconds) * 1000)
    with _signals_set(stop, enabled=handle_signals):
        try:
            bus = await connect_unless_stopped(env, options, stop)
        except QueueManagerError as error:
            log.error(
                "cannot start the job: Kafka unreachable or misconfigured",
                bootstrap=env.kafka_bootstrap_servers,
                error=error.message,
            )
            return ExitCode.BAD_CONFIG if isinstance(error, InvalidInput) else ExitCode.FAILED
        if bus is None:
            log.info("stopped before Kafka was reachable; nothing to report")
            return 0
        try:
            return await JobRun(entrypoint, env, options, bus, stop).run(since_ms)
        finally:
            await _close(bus)


async def connect_unless_stopped(
    env: JobEnv, options: RuntimeOptions, stop: asyncio.Event
) -> Bus | None:
    """Connect, but give up at once (None) when a stop arrives while the broker is away."""
    return await unless_stopped(connect(env, options), stop)


async def connect(env: JobEnv, options: RuntimeOptions) -> Bus:
    """Start a bus, retrying with capped backoff for up to BROKER_CONNECT_TIMEOUT seconds."""
    async for attempt in retrying(
        "connect to Kafka",
        on=BrokerUnavailable,
        attempts=None,
        timeout=options.broker_connect_timeout,
        wait_initial=0.2,
        wait_max=2.0,
    ):
        with attempt:
            bus = await _started_bus(env, options)
    return bus


async def _started_bus(env: JobEnv, options: RuntimeOptions) -> Bus:
    """A started bus; the queue's data topic (KAFKA_TOPIC) exists once it returns, created
    with the configured partitions and replication, never left to broker auto-creation."""
    bus = make_bus(env)
    await bus.start(connect_seconds=min(5.0, options.broker_connect_timeout))
    try:
        if env.kafka_topic:
            await bus.ensure_topics([env.kafka_topic])
    except BaseException:
        await _close(bus)
        raise
    return bus


async def _close(bus: Bus) -> None:
    try:
        await bus.stop()
    except QueueManagerError as error:
        log.warning("closing the Kafka producer failed", error=error.message)


@contextlib.contextmanager
def _signals_set(stop: asyncio.Event, *, enabled: bool) -> Any:
    """SIGTERM and SIGINT set `stop` (a platform stop or Ctrl-C) instead of killing us."""
    if not enabled:
        yield
        return
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _on_signal, stop, signum)
    try:
        yield
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def _on_signal(stop: asyncio.Event, signum: signal.Signals) -> None:
    log.info("stop requested by signal", signal=signum.name)
    stop.set()


class JobRun:
    """One connected run: background helpers, the supervised entrypoint, the final report."""

    def __init__(
        self,
        entrypoint: Entrypoint,
        env: JobEnv,
        options: RuntimeOptions,
        bus: Bus,
        stop: asyncio.Event,
    ) -> None:
        self.entrypoint = entrypoint
        self.options = options
        self.reporter = TelemetryReporter(bus, env)
        sink = KafkaRecordSink(bus, env.kafka_topic, options.sink_retry_seconds, self.reporter)
        self.context = RuntimeContext(env, stop, sink, self.reporter)
        self.bus = bus

    @property
    def stop(self) -> asyncio.Event:
        return self.context.stop_requested

    async def run(self, since_ms: int) -> int:
        env = self.context.env
        watch = StopWatch(
            self.bus,
            env.queue_control_topic,
            env.queue_id,
            since_ms,
            job=env.job_name,
            budget=self.reporter.weight_budget,
        )
        helpers = OwnedTasks("job")  # a helper's failure is logged, never the job's end
        helpers.spawn(watch.run(self.stop), "stop-watch")
        try:
            outcome = await self._run_reported(helpers)
        finally:
            await helpers.close()
        await self._report_final(outcome)
        return outcome.exit_code

    async def _run_reported(self, helpers: OwnedTasks) -> Outcome:
        try:
            await self._publish(Status.STARTING)
            await self._publish(Status.LOADING)
        except QueueManagerError as error:
            return _failed("telemetry could not be delivered", error)
        interval = self.context.env.telemetry_interval_seconds
        helpers.spawn(self.reporter.report_every(interval), "telemetry")
        outcome = await self._supervise()
        return await self._flushed(outcome)

    async def _supervise(self) -> Outcome:
        """Run the entrypoint; on stop give it STOP_TIMEOUT seconds, then cancel it."""
        body = asyncio.create_task(self._call_entrypoint(), name="job")
        stopper = asyncio.create_task(self.stop.wait(), name="stop-wait")
        try:
            await asyncio.wait({body, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if not body.done():
                await self._wait_then_cancel(body)
        finally:
            await cancel_and_wait(stopper)
            if not body.done():
                with contextlib.suppress(Exception):  # its outcome is read below
                    await cancel_and_wait(body)
        return self._outcome_of(body)

    async def _call_entrypoint(self) -> None:
        await self.entrypoint(self.context)

    async def _wait_then_cancel(self, body: asyncio.Task[None]) -> None:
        done, _ = await asyncio.wait({body}, timeout=self.options.stop_timeout)
        if not done:
            log.warning(
                "job ignored the stop request; cancelling", stop_timeout=self.options.stop_timeout
            )

    def _outcome_of(self, body: asyncio.Task[None]) -> Outcome:
        if body.cancelled():
            stopped = self.stop.is_set()
            return Outcome(Status.STOPPED) if stopped else Outcome(Status.ERROR, "job cancelled")
        error = body.exception()
        if error is not None:
            log.error("job failed", exc_info=error)
            return Outcome(Status.ERROR, str(error) or type(error).__name__)
        return Outcome(Status.STOPPED if self.stop.is_set() else Status.FINISHED)

    async def _flushed(self, outcome: Outcome) -> Outcome:
        """Records already handed to the sink must reach the broker before we report."""
        try:
            await asyncio.wait_for(self.context.sink.flush(), self.options.flush_timeout)
        except (QueueManagerError, TimeoutError) as error:
            if outcome.status is not Status.ERROR:
                return _failed("records could not be flushed", error)
        return outcome

    async def _report_final(self, outcome: Outcome) -> None:
        try:
            await self._publish(outcome.status, outcome.error_message)
        except QueueManagerError as error:
            log.error(
                "final telemetry not delivered", status=outcome.status.value, error=error.message
            )

    async def _publish(self, status: Status, error_message: str | None = None) -> None:
        """Telemetry with capped-backoff retries, bounded by TELEMETRY_RETRY_SECONDS."""
        async for attempt in retrying(
            f"send {status.value} telemetry",
            on=BrokerUnavailable,
            attempts=None,
            timeout=self.options.telemetry_retry_seconds,
            wait_max=2.0,
        ):
            with attempt:
                try:
                    await self.reporter.publish(status, error_message)
                except BrokerUnavailable as error:
                    self.reporter.retrying(TELEMETRY, attempt.num, error.message, attempt.next_wait)
                    raise
        self.reporter.recovered(TELEMETRY)


def _failed(what: str, error: BaseException) -> Outcome:
    detail = error.message if isinstance(error, QueueManagerError) else type(error).__name__
    log.error(what, error=detail)
    return Outcome(Status.ERROR, f"{what}: {detail}")
