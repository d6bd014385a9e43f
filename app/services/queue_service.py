"""Queue lifecycle: start, stop, list, get, logs, job outcomes and restart recovery.

Start records first and launches second (launch is idempotent by job name), so a crash
between the two is settled by `recover` at the next start instead of leaving a queue stuck.
A failed attempt that may retry waits in `pending` until its `not_before`; the job
scheduler (app/services/job_scheduler.py) launches it then, as it launches every job.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from itertools import groupby
from operator import attrgetter
from typing import Protocol

import orjson
import structlog

from app.aio import OwnedTasks
from app.errors import (
    AlreadyExists,
    DependencyUnavailable,
    IllegalTransition,
    InvalidInput,
    JobNotFound,
    QueueManagerError,
    StoreUnavailable,
)
from app.launchers.base import JobLauncher, JobOutcome, JobPhase, JobSpec
from app.metrics import Metrics
from app.models.catalog import is_stream
from app.models.messages import Telemetry
from app.models.queries import QueueFilter
from app.models.queues import JobState, QueueCreate, QueueState, utcnow
from app.models.status import Status, is_terminal, stop_is_legal
from app.services import retrying, transitions
from app.services.changes import ChangeFeed, QueueChange
from app.services.pipeline import new_queue
from app.services.retrying import NO_RULES, RetryRules
from app.store.base import JsonPage, QueuePage, QueueStore

log = structlog.get_logger(__name__)
SHUTDOWN_REASON = "stopped: the service shut down"
COMMAND_NAMESPACE = uuid.UUID("6f1c0a52-5b8e-4a47-9d1e-0c3f1f6b7e21")
BY_SEQ = attrgetter("seq")
BY_STATUS = attrgetter("status")
StopListener = Callable[[QueueState], Awaitable[None]]
LaunchEnv = Callable[[QueueState, list[JobState]], Awaitable[dict[str, dict[str, str]]]]
"""Extra environment of jobs about to launch, by job name (their Binance weight share)."""
Launched = tuple[str, int, str | QueueManagerError]
"""A job's name, the attempt launched and the launcher's reference for it, or why it could
not be launched."""
RetryKey = tuple[str, str, int]
"""A wait before a retry: queue id, job name, the attempt that failed."""
PLATFORM_DOWN = "waiting for the job platform: "
"""A job the scheduler could not launch because the launcher is down (retried)."""
RECORD_RETRY_FIRST_SECONDS = 0.5
RECORD_RETRY_MAX_SECONDS = 30.0
Hold = tuple[dict[str, str], dict[str, str]]
"""A scheduling pass's word on one queue: skip reasons and waiting sentences, by job."""


class Admission(Protocol):
    """The job scheduler (app/services/job_scheduler.py), as the service sees it."""

    async def settle(self, queue: QueueState) -> QueueState:
        """The queue after the scheduler's next look at it (bounded wait)."""


class QueueService:
    def __init__(
        self,
        *,
        store: QueueStore,
        launcher: JobLauncher,
        feed: ChangeFeed,
        metrics: Metrics,
        job_env: dict[str, str],
        stop_grace_seconds: float,
        stall_after_seconds: float | None = None,
        retry_rules: RetryRules = NO_RULES,
    ) -> None:
        self.store = store
        self.launcher = launcher
        self.feed = feed
        self.metrics = metrics
        self._job_env = job_env
        self._grace = stop_grace_seconds
        self.stall_after = stall_after_seconds
        """No telemetry for this long makes a running job stalled (None: never)."""
        self._background = OwnedTasks("queue-service")
        self.stop_listeners: list[StopListener] = []
        """Told of every stop before the jobs are signalled (the stop command publisher)."""
        self.launch_env: list[LaunchEnv] = []
        """Asked before jobs launch (app/services/weight_shares.py)."""
        self.retry_rules = retry_rules
        self._waits: set[RetryKey] = set()
        """Retry waits with a wake-up armed in this process."""
        self.admission: Admission | None = None
        """The job scheduler, once wired: it launches pending jobs when they may start.
        Without it (bare benchmarks) every job of a queue is launched at start."""

    # --- commands -------------------------------------------------------------------------
    async def start(self, create: QueueCreate, command_id: str | None = None) -> QueueState:
        """Record the queue, then launch its jobs. A repeated command_id returns the first."""
        queue_id = str(uuid.uuid5(COMMAND_NAMESPACE, command_id) if command_id else uuid.uuid4())
        return await self.start_queue(create, new_queue(create, queue_id, command_id))

    async def start_queue(self, create: QueueCreate, queue: QueueState) -> QueueState:
        """Record a new queue built by the caller from `create` (its id derived from what
        made it: a command, a schedule's slot), then launch its jobs; when that id is
        taken, the stored queue is returned and nothing is launched twice."""
        self._refuse_unrunnable(create, queue)
        try:
            await self.store.create(queue)
        except AlreadyExists:
            return await self.store.get(queue.id)
        await self.feed.publish(QueueChange(queue, None))
        if self.admission is not None:
            return await self.admission.settle(queue)
        return await self._launch(queue, queue.jobs)

    def check_runnable(self, create: QueueCreate) -> None:
        """InvalidInput (422) naming the field when a job of `create` cannot run here."""
        self._refuse_unrunnable(create, new_queue(create, str(uuid.uuid4())))

    def _refuse_unrunnable(self, create: QueueCreate, queue: QueueState) -> None:
        """422 before anything is created when a job's target cannot run here: locally a
        target needs a command, on Kubernetes an image (the reason says how to register
        one). The jobs of a default pipeline are checked as well."""
        problems = []
        for index, job in enumerate(queue.jobs):
            reason = self.launcher.cannot_run(job.target)
            if reason is None:
                continue
            if create.requests:
                problems.append({"field": f"requests[{index}].target", "reason": reason})
            else:
                kind = create.source_type.value
                reason = f"the default pipeline of type {kind} runs {reason}"
                problems.append({"field": "type", "reason": reason})
        if problems:
            summary = "; ".join(f"{p['field']}: {p['reason']}" for p in problems)
            raise InvalidInput(f"invalid request: {summary}", data=problems)

    async def stop(self, queue_id: str) -> QueueState:
        """Ask every job to stop. Idempotent; 409 for a queue that already ended by itself."""
        queue = await self.store.get(queue_id)
        if not stop_is_legal(queue.status):
            raise IllegalTransition(f"queue {queue_id} is {queue.status}: it cannot be stopped")
        queue, changed = await self._mutate(queue_id, transitions.request_stop)
        if changed:
            await self._halt_jobs(queue)
        return queue

    async def get(self, queue_id: str) -> QueueState:
        return await self.store.get(queue_id)

    async def get_json(self, queue_id: str) -> bytes:
        return await self.store.get_json(queue_id)

    async def page(self, query: QueueFilter) -> QueuePage:
        return await self.store.page(query)

    async def page_json(self, query: QueueFilter) -> JsonPage:
        return await self.store.page_json(query)

    async def count_by_status(self) -> dict[Status, int]:
        return await self.store.count_by_status()

    async def logs(self, queue_id: str, job: str | None, tail: int) -> tuple[JobState, list[str]]:
        queue = await self.store.get(queue_id)
        chosen = _choose_job(queue, job)
        return chosen, await self.launcher.logs(queue_id, retrying.run_name(chosen), tail)

    # --- reports from jobs and the platform -----------------------------------------------
    async def apply_telemetry(self, reports_by_queue: dict[str, list[Telemetry]]) -> set[str]:
        """Apply telemetry of several queues in one store call (each queue's batch in one
        write, coalesced), announcing every status a queue passes through. Returns the ids
        of queues that do not exist."""
        trackers = {
            queue_id: _Tracker(_telemetry_change(reports, self.stall_after, self.retry_rules))
            for queue_id, reports in reports_by_queue.items()
        }
        results = await self.store.mutate_many(
            {queue_id: tracker.run for queue_id, tracker in trackers.items()}
        )
        for queue_id, (queue, changed) in results.items():
            if changed:
                await self.feed.publish(trackers[queue_id].change_of(queue))
                self._count_gaps(queue, trackers[queue_id])
                self._count_retries(queue)
        return set(reports_by_queue) - set(results)

    def _count_gaps(self, queue: QueueState, tracker: _Tracker) -> None:
        """What this write added to the queue's gap counters (they only grow)."""
        found, backfilled = tracker.gaps_before
        exchange = queue.exchange.value
        if queue.gaps_detected > found:
            self.metrics.gaps_detected.labels(exchange).inc(queue.gaps_detected - found)
        if queue.records_backfilled > backfilled:
            self.metrics.records_backfilled.labels(exchange).inc(
                queue.records_backfilled - backfilled
            )

    async def on_outcome(self, outcome: JobOutcome) -> None:
        """The launcher saw a job's attempt end or vanish (retried when it may be)."""
        status, message = _status_of(outcome)
        queue, changed = await self._mutate(
            outcome.queue_id, lambda q: self._mark_outcome(q, outcome, status, message)
        )
        job = queue.job(outcome.name) or transitions.job_running_as(queue, outcome.name)
        if changed and job is not None and job.status is Status.ERROR:
            self.metrics.jobs_failed.labels(job.target).inc()
        if changed:
            self._count_retries(queue)

    def _mark_outcome(
        self, queue: QueueState, outcome: JobOutcome, status: Status, message: str | None
    ) -> bool:
        retryable = not outcome.bad_config
        return transitions.mark_job(
            queue,
            outcome.name,
            status,
            message,
            outcome.log_tail,
            retryable=retryable,
            rules=self.retry_rules,
        )

    def _count_retries(self, queue: QueueState) -> None:
        """job_retries_total: once per wait (a job, the attempt that failed), however many
        changes of the queue show it; waits that are over are forgotten. The job scheduler
        launches the next attempt once `not_before` has passed (its one launching place)."""
        waiting = _waits_of(queue)
        for _, name, _ in waiting - self._waits:
            job = queue.job(name)
            if job is not None:
                self.metrics.job_retries.labels(job.target).inc()
        self._waits = {key for key in self._waits if key[0] != queue.id} | waiting

    async def hold(self, holds: dict[str, Hold]) -> None:
        """Record a scheduling pass's skips and waiting sentences, by queue id, in one
        store call (one transaction where the store has them)."""
        trackers = {queue_id: _Tracker(_hold_change(*hold)) for queue_id, hold in holds.items()}
        results = await self.store.mutate_many(
            {queue_id: tracker.run for queue_id, tracker in trackers.items()}
        )
        for queue_id, (queue, changed) in results.items():
            if changed:
                await self.feed.publish(trackers[queue_id].change_of(queue))
                self._count_skips(queue, holds[queue_id][0])

    def _count_skips(self, queue: QueueState, skips: dict[str, str]) -> None:
        for name in skips:
            job = queue.job(name)
            if job is not None and job.status is Status.SKIPPED:
                self.metrics.jobs_skipped.labels(job.target).inc()

    async def launch_admitted(self, queue: QueueState, names: list[str]) -> QueueState:
        """Launch jobs the scheduler admitted; the queue as recorded after it. A launcher
        that is down leaves them pending with the reason (the next pass tries again); a
        stop recorded while they launched makes us stop them at once (they never run on
        after a stop)."""
        jobs = [job for name in names if (job := queue.job(name)) is not None]
        run_as = {job.name: retrying.launch_name(job) for job in jobs}
        queue, launched = await self._launch_jobs(queue, jobs, hold_unavailable=True)
        late = [
            run_as[name]
            for name in launched
            if (job := queue.job(name)) is not None and is_terminal(job.status)
        ]
        if late:
            self._background.spawn(
                self.launcher.stop(queue.id, late, self._grace), name=f"stop-late-{queue.id}"
            )
        return queue

    async def mark_stalls(self) -> list[QueueState]:
        """The stall rule over every active queue (the stall checker calls it); returns
        the active queues as they are after it. Only queues that change are written."""
        if self.stall_after is None:
            return await self.store.active()
        after, now = self.stall_after, utcnow()
        checked = []
        for found in await self.store.active():
            if transitions.mark_stalled(found, now, after):
                found, _ = await self._mutate(  # noqa: PLW2901 (the stored version)
                    found.id, lambda q: transitions.mark_stalled(q, now, after)
                )
            checked.append(found)
        return checked

    # --- lifecycle ------------------------------------------------------------------------
    async def recover(self) -> None:
        """At start-up: launch jobs never launched, settle jobs whose process is gone.
        A dependency that is down (store, job platform) fails the whole recovery, to be
        run again once it is back; any other problem skips that queue (logged)."""
        for queue in await self.store.active():
            try:
                await self._recover_queue(queue)
            except DependencyUnavailable:
                raise
            except QueueManagerError as error:
                log.warning("recovery failed", queue_id=queue.id, error=error.message)

    async def shutdown(self) -> None:
        """Stop the jobs that die with us (local launcher), so that their queues end
        `stopped` with the shutdown as the reason; wait for them (grace, then kill)."""
        await self._background.close()
        if not self.launcher.owns_jobs:
            return
        try:
            queues = await self.store.active()
        except Exception:  # the launcher's close stops the jobs all the same
            log.exception("shutdown: cannot read the active queues")
            return
        await asyncio.gather(*(self._stop_for_shutdown(queue) for queue in queues))

    async def _stop_for_shutdown(self, queue: QueueState) -> None:
        """Record the reason (when the store takes it), then stop the jobs regardless."""
        try:
            await self._mutate(queue.id, lambda q: transitions.request_stop(q, SHUTDOWN_REASON))
        except Exception:
            log.exception("shutdown: stop not recorded", queue_id=queue.id)
        names = [retrying.launch_name(job) for job in queue.jobs if not is_terminal(job.status)]
        await self.launcher.stop(queue.id, names, self._grace)

    # --- internals ------------------------------------------------------------------------
    async def _launch(self, queue: QueueState, jobs: Iterable[JobState]) -> QueueState:
        """Launch the jobs of `jobs` that are pending and due (not waiting to retry)."""
        now = utcnow()
        pending = [job for job in jobs if retrying.is_due(job, now)]
        queue, _ = await self._launch_jobs(queue, pending, hold_unavailable=False)
        return queue

    async def _launch_jobs(
        self, queue: QueueState, pending: list[JobState], *, hold_unavailable: bool
    ) -> tuple[QueueState, list[str]]:
        """Launch and record; the stored queue and the names of the jobs the launcher took."""
        extra = await self._launch_env(queue, pending)
        results = await asyncio.gather(
            *(self._launch_one(queue, job, extra.get(job.name, {})) for job in pending)
        )
        queue = await self._record(queue, results, hold_unavailable)
        self._count_failed_launches(pending, results, hold_unavailable)
        unavailable = [r for _, _, r in results if isinstance(r, DependencyUnavailable)]
        if unavailable and len(unavailable) == len(results) and not hold_unavailable:
            raise unavailable[0]
        return queue, [name for name, _, r in results if not isinstance(r, QueueManagerError)]

    def _count_failed_launches(
        self, jobs: list[JobState], results: list[Launched], held: bool
    ) -> None:
        """A launch refused fails its job; one held while the platform is down does not."""
        targets = {job.name: job.target for job in jobs}
        for name, _, result in results:
            if isinstance(result, QueueManagerError) and not (
                held and isinstance(result, DependencyUnavailable)
            ):
                self.metrics.jobs_failed.labels(targets[name]).inc()

    async def _record(
        self, queue: QueueState, results: list[Launched], hold_unavailable: bool = False
    ) -> QueueState:
        """Store the launches. The jobs run whether or not the store takes the write (a
        full disk): then the answer still says what happened (the queue started, never a
        503 for a queue that runs), and the write is retried in the background."""
        try:
            queue, _ = await self._mutate(
                queue.id, lambda q: _record_launches(q, results, hold_unavailable)
            )
        except StoreUnavailable as error:
            log.warning(
                "launches not recorded yet; retrying", queue_id=queue.id, error=error.message
            )
            _record_launches(queue, results, hold_unavailable)
            self._background.spawn(
                self._record_later(queue.id, results, hold_unavailable), f"record-{queue.id}"
            )
        return queue

    async def _record_later(
        self, queue_id: str, results: list[Launched], hold_unavailable: bool
    ) -> None:
        """Until the store takes the launch records (the jobs' telemetry may come first)."""
        delay = RECORD_RETRY_FIRST_SECONDS
        while True:
            await asyncio.sleep(delay)
            try:
                await self._mutate(
                    queue_id, lambda q: _record_launches(q, results, hold_unavailable)
                )
                return
            except StoreUnavailable as error:
                log.warning("launches still not recorded", queue_id=queue_id, error=error.message)
                delay = min(delay * 2, RECORD_RETRY_MAX_SECONDS)

    async def _launch_env(
        self, queue: QueueState, jobs: list[JobState]
    ) -> dict[str, dict[str, str]]:
        extra: dict[str, dict[str, str]] = {}
        for provider in self.launch_env if jobs else []:
            for name, values in (await provider(queue, jobs)).items():
                extra.setdefault(name, {}).update(values)
        return extra

    async def _launch_one(
        self, queue: QueueState, job: JobState, extra: dict[str, str]
    ) -> Launched:
        attempt = retrying.next_attempt(job)
        try:
            reference = await self.launcher.launch(self.job_spec(queue, job, extra))
        except QueueManagerError as error:
            return job.name, attempt, error
        self.metrics.jobs_launched.labels(job.target).inc()
        return job.name, attempt, reference

    def job_spec(
        self, queue: QueueState, job: JobState, extra: dict[str, str] | None = None
    ) -> JobSpec:
        """What the launcher gets for `job`'s next attempt: its identity and request, with
        the service's values of the job environment contract (launchers/job_environment.py),
        and `extra` (its weight share). Each attempt runs under its own name; a retried job
        resumes from its last loaded timestamp and counts on from its records."""
        env = {
            **self._job_env,
            **(extra or {}),
            "QUEUE_ID": queue.id,
            "TARGET": job.target,
            "JOB_TYPE": job.type,
            "JOB_NAME": job.name,
            "EXCHANGE": queue.exchange.value,
            "SYMBOL": queue.symbol,
            "SYMBOLS": ",".join(queue.symbols),
            "TIME_RANGE": queue.time_range,
            "KAFKA_TOPIC": job.kafka_topic or "",
            "COLLECTION": job.collection or "",
            "REQUEST_JSON": orjson.dumps(job.request).decode(),
        }
        if job.last_loaded_timestamp:
            env["RESUME_FROM"] = job.last_loaded_timestamp
        env |= self._attempt_env(queue, job)
        name = env["JOB_RUN_NAME"]
        return JobSpec(queue.id, name, job.target, job.type, env, not is_stream(job.type))

    def _attempt_env(self, queue: QueueState, job: JobState) -> dict[str, str]:
        policy = self.retry_rules.policy_of(job)
        env = {
            "JOB_RUN_NAME": retrying.launch_name(job),
            "JOB_ATTEMPT": str(retrying.next_attempt(job)),
            "JOB_MAX_ATTEMPTS": str(retrying.max_attempts(policy)),
        }
        if job.attempt and job.records_written and not retrying.loads_again(queue, job):
            env["RECORDS_BEFORE"] = str(job.records_written)
        return env

    async def _halt_jobs(self, queue: QueueState) -> None:
        """Tell the jobs (stop command) and the platform (signal, then kill) in background."""
        for listener in self.stop_listeners:
            await listener(queue)
        names = [retrying.run_name(job) for job in queue.jobs if job.status is Status.STOPPING]
        self._background.spawn(
            self.launcher.stop(queue.id, names, self._grace), name=f"stop-{queue.id}"
        )

    async def _recover_queue(self, queue: QueueState) -> None:
        """Reclaim and observe each live job under the name it runs (or would run) as; a
        running attempt that is gone fails (and may retry); due jobs launch, jobs waiting
        to retry get their wake-up."""
        live = {retrying.launch_name(job): job for job in queue.jobs if not is_terminal(job.status)}
        await self.launcher.reclaim(queue.id, list(live))
        phases = await self.launcher.observe(queue.id, list(live))
        gone = [
            name
            for name, job in live.items()
            if phases.get(name) is JobPhase.MISSING and job.status is not Status.PENDING
        ]
        for name in gone:
            await self.on_outcome(JobOutcome(queue.id, name, JobPhase.MISSING, _GONE))
        current = await self.store.get(queue.id)
        if current.stop_requested:
            await self._halt_jobs(current)
        else:
            self._waits |= _waits_of(current)  # counted before the restart
            if self.admission is None:  # else the job scheduler launches them when due
                await self._launch(current, current.jobs)

    async def _mutate(
        self, queue_id: str, change: Callable[[QueueState], bool]
    ) -> tuple[QueueState, bool]:
        """Store the change, then tell the listeners what moved."""
        tracker = _Tracker(lambda queue, _: change(queue))
        queue, changed = await self.store.mutate(queue_id, tracker.run)
        if changed:
            await self.feed.publish(tracker.change_of(queue))
        return queue, changed


TrackedChange = Callable[[QueueState, list[Status]], bool]


def _hold_change(skips: dict[str, str], waiting: dict[str, str]) -> TrackedChange:
    return lambda queue, _: transitions.hold_jobs(queue, skips, waiting)


class _Tracker:
    """Runs a change and remembers the status before it and the statuses passed on the
    way. Its trail restarts on every run: a store may run a change more than once."""

    def __init__(self, change: TrackedChange) -> None:
        self._change = change
        self._previous: Status | None = None
        self._passed: list[Status] = []
        self.gaps_before = (0, 0)
        """The queue's gaps_detected and records_backfilled before the change."""

    def run(self, queue: QueueState) -> bool:
        self._previous = queue.status
        self._passed = []
        self.gaps_before = (queue.gaps_detected, queue.records_backfilled)
        return self._change(queue, self._passed)

    def change_of(self, queue: QueueState) -> QueueChange:
        return QueueChange(queue, self._previous, tuple(self._passed))


def _telemetry_change(
    reports: list[Telemetry], stall_after: float | None = None, rules: RetryRules = NO_RULES
) -> TrackedChange:
    """Coalesces when it runs: in the store's writer (SQLite's thread, not the event loop
    that serves the live fan-out) and only for a queue that exists."""

    def change(queue: QueueState, passed: list[Status]) -> bool:
        changed = False
        for report in coalesce(reports):
            if transitions.apply_telemetry(queue, report, stall_after, rules):
                changed = True
                passed.append(queue.status)
        return changed

    return change


def coalesce(reports: list[Telemetry]) -> list[Telemetry]:
    """The reports that matter, in seq order per job: the first of each run of one status
    (so every status passed is still seen) and the newest (it carries the latest counters).
    Under load this turns thousands of reports of a queue into a handful. Of reports that
    share a seq only the first to arrive counts, as it would had they come in two polls."""
    by_job: dict[str, list[Telemetry]] = defaultdict(list)
    for report in reports:
        by_job[report.job].append(report)
    kept: list[Telemetry] = []
    for job_reports in by_job.values():
        job_reports.sort(key=BY_SEQ)  # stable: same-seq reports keep their arrival order
        unique = [next(same) for _, same in groupby(job_reports, BY_SEQ)]
        kept.extend(next(run) for _, run in groupby(unique, BY_STATUS))
        if kept[-1] is not unique[-1]:
            kept.append(unique[-1])
    return kept


_GONE = "the job's process is gone: the service restarted while it ran"


def _status_of(outcome: JobOutcome) -> tuple[Status, str | None]:
    if outcome.phase is JobPhase.SUCCEEDED:
        return Status.FINISHED, None
    if outcome.phase is JobPhase.RUNNING:
        return Status.LOADING, None
    if outcome.phase is JobPhase.MISSING:
        return Status.ERROR, outcome.message or "the job disappeared before it reported an end"
    return Status.ERROR, outcome.message or "the job failed"


def _waits_of(queue: QueueState) -> set[RetryKey]:
    return {
        (queue.id, job.name, job.attempt)
        for job in queue.jobs
        if job.status is Status.PENDING and job.not_before is not None
    }


def _record_launches(
    queue: QueueState, results: list[Launched], hold_unavailable: bool = False
) -> bool:
    """Launched attempts are starting, failed launches failed; with `hold_unavailable` a
    job the launcher could not take because it is down stays pending, saying so."""
    changed = False
    for name, attempt, result in results:
        job = queue.job(name)
        if hold_unavailable and job is not None and isinstance(result, DependencyUnavailable):
            changed |= _hold_for_platform(job, result)
        elif isinstance(result, QueueManagerError):
            changed |= transitions.launch_failed(queue, name, attempt, result.message)
        else:
            changed |= transitions.launched(queue, name, attempt, result)
    return changed


def _hold_for_platform(job: JobState, error: DependencyUnavailable) -> bool:
    sentence = f"{PLATFORM_DOWN}{error.message}"
    if job.status is not Status.PENDING or job.waiting_for == sentence:
        return False
    job.waiting_for = sentence
    return True


def _choose_job(queue: QueueState, wanted: str | None) -> JobState:
    """By job name, by target (when one job has it), or by default the first failed job."""
    if wanted is None:
        failed = [job for job in queue.jobs if job.status is Status.ERROR]
        return (failed or queue.jobs)[0]
    matches = [j for j in queue.jobs if wanted in (j.name, j.target, f"{j.target}:{j.type}")]
    if len(matches) == 1:
        return matches[0]
    names = ", ".join(f"{j.target}:{j.type}" for j in queue.jobs)
    reason = "is ambiguous" if matches else "matches no job"
    raise JobNotFound(f"job {wanted!r} {reason}; this queue's jobs are: {names}")
