"""What the monitor knows: queues (named by symbol and range), their jobs, each job's last
telemetry (with a stream loader's live `stats`), and the state of the link to the service.
Built only from /ws/topic messages and the queue documents read over REST."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

RATE_WINDOW_SECONDS = 10.0
TERMINAL = frozenset({"finished", "stopped", "error", "skipped"})


def is_terminal(status: str) -> bool:
    return status in TERMINAL


def epoch(value: Any) -> float | None:
    """An ISO timestamp of the service as epoch seconds, or None."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def per_second(samples: deque[tuple[float, int]]) -> float | None:
    """The rate of a counter over its samples of the last RATE_WINDOW_SECONDS."""
    if len(samples) < 2:
        return None
    latest = samples[-1]
    first = next(s for s in samples if latest[0] - s[0] <= RATE_WINDOW_SECONDS)
    elapsed = latest[0] - first[0]
    return (latest[1] - first[1]) / elapsed if elapsed > 0 else None


def gap_counts(item: dict[str, Any]) -> dict[str, int] | None:
    """The gap counters of a job's telemetry or document, when it reports any."""
    if not isinstance(item.get("gaps_detected"), int):
        return None
    names = ("gaps_detected", "gaps_open", "records_backfilled")
    return {name: int(item.get(name) or 0) for name in names}


def open_gaps(item: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The gaps a job's telemetry or document lists as not filled, or None when it lists
    none (a report without `gaps` says nothing new)."""
    gaps = item.get("gaps")
    if not isinstance(gaps, list):
        return None
    return [g for g in gaps if isinstance(g, dict) and g.get("state") != "filled"]


def max_attempts(job: dict[str, Any]) -> int | None:
    """1 + the retry limit of a job's request, or what its health says while it retries."""
    health = job.get("health")
    if isinstance(health, dict) and health.get("state") == "retrying":
        bound = health.get("max_attempts")
        if isinstance(bound, int):
            return bound
    retry = (job.get("request") or {}).get("retry")
    limit = retry.get("limit") if isinstance(retry, dict) else None
    return limit + 1 if isinstance(limit, int) else None


@dataclass
class JobView:
    name: str
    target: str = ""
    type: str = ""
    status: str = "pending"
    records: int = 0
    seq: int = -1
    health: dict[str, Any] | None = None
    stats: dict[str, Any] | None = None
    rest_weight: dict[str, Any] | None = None
    """A Binance loader's share of the REST weight budget and its use."""
    seen: float = 0.0
    """When the job was last heard of (its telemetry, or a change of its queue)."""
    gaps: dict[str, int] | None = None
    """A stream job's `gaps_detected`, `gaps_open`, `records_backfilled` (None: not told)."""
    open_gaps: list[dict[str, Any]] = field(default_factory=list)
    """Its gaps not filled yet, with their bounds, as it last listed them."""
    depends_on: list[str] = field(default_factory=list)
    """The names of the jobs whose output this one needs."""
    waiting_for: str | None = None
    """Why it has not started (an input, a slot) or when it retries."""
    attempt: int = 0
    attempts: int = 0
    """The current attempt and how many were made (a retried job runs again)."""
    max_attempts: int | None = None
    """1 + its retry limit, when its request or its health says."""
    error: str | None = None
    """How it ended badly: the error, or why it was skipped."""
    samples: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=120))

    def observe(self, records: int, at: float, *, heard: bool = True) -> None:
        """A new count; samples stay in time order (a document may be older than telemetry).
        `heard`: the count is news from the job at `at` (not a document read later)."""
        self.records = records
        if heard:
            self.seen = max(self.seen, at)
        self.samples.append((max(at, self.samples[-1][0]) if self.samples else at, records))

    def take_pipeline(self, job: dict[str, Any]) -> None:
        """Its place in the pipeline from its document: upstreams, waiting, attempts."""
        self.depends_on = [str(name) for name in job.get("depends_on") or []]
        self.waiting_for = str(job["waiting_for"]) if job.get("waiting_for") else None
        self.attempts = len(job.get("attempts") or [])
        self.attempt = int(job.get("attempt") or 0)
        self.max_attempts = max_attempts(job)
        self.error = str(job["error_message"]) if job.get("error_message") else None

    @property
    def rate(self) -> float | None:
        return None if is_terminal(self.status) else per_second(self.samples)

    @property
    def streams_tickers(self) -> bool:
        return isinstance((self.stats or {}).get("tickers"), dict)


@dataclass
class QueueView:
    id: str
    symbol: str = ""
    symbols: list[str] = field(default_factory=list)
    exchange: str = ""
    time_range: str = ""
    status: str = ""
    health: dict[str, Any] | None = None
    created: float = 0.0
    known: bool = False
    """Its document was read: it has a name (an id from telemetry alone has none yet)."""
    schedule: str | None = None
    """The name of the schedule that made it."""
    jobs: dict[str, JobView] = field(default_factory=dict)

    @property
    def tickers(self) -> list[str]:
        return list(dict.fromkeys([self.symbol, *self.symbols] if self.symbol else self.symbols))

    @property
    def label(self) -> str:
        """`BTCUSDT 2024-06-01 → 2024-06-30`; an unread queue by its short id."""
        if not self.known:
            return f"queue {self.id.split('-')[0]}"
        tickers = self.tickers
        shown = ", ".join(tickers[:3]) + (f" +{len(tickers) - 3}" if len(tickers) > 3 else "")
        start, _, end = self.time_range.partition(":")
        period = start if start == end or not end else f"{start} → {end}"
        made_by = f" ⏰ {self.schedule}" if self.schedule else ""
        return f"{shown} {period}{made_by}".strip()

    def job(self, name: str) -> JobView:
        return self.jobs.setdefault(name, JobView(name))

    def take(self, document: dict[str, Any]) -> None:
        """The queue's document (REST or an event's `data`): name, status, health, jobs."""
        self.known = True
        self.symbol = str(document.get("symbol") or "")
        self.symbols = [str(s) for s in document.get("symbols") or []]
        self.exchange = str(document.get("exchange") or "")
        self.time_range = str(document.get("time_range") or "")
        self.status = str(document.get("status") or self.status)
        self.health = document.get("health") if isinstance(document.get("health"), dict) else None
        self.created = epoch(document.get("created_at")) or self.created
        schedule = document.get("schedule")
        self.schedule = str(schedule.get("name")) if isinstance(schedule, dict) else None
        updated = epoch(document.get("updated_at")) or 0.0
        for job in document.get("jobs") or []:
            self._take_job(job, updated)

    def _take_job(self, job: dict[str, Any], updated: float) -> None:
        view = self.job(str(job.get("name")))
        view.target, view.type = str(job.get("target", "")), str(job.get("type", ""))
        if int(job.get("attempt") or 0) > view.attempt:
            view.seq = -1  # a new attempt is a new process: its telemetry counts from 0
        view.take_pipeline(job)
        view.health = job.get("health") if isinstance(job.get("health"), dict) else view.health
        view.gaps = gap_counts(job) or view.gaps
        listed = open_gaps(job)
        view.open_gaps = listed if listed is not None else view.open_gaps
        seq = int(job.get("seq", -1))
        if isinstance(job.get("rest_weight"), dict) and seq >= view.seq:
            view.rest_weight = job["rest_weight"]
        if seq < view.seq:
            return  # the WebSocket's telemetry was ahead of this document
        view.status = str(job.get("status", view.status))  # also outcomes without telemetry
        if seq > view.seq or not view.samples:
            # A document read at a connect says nothing of when each job was last heard
            # from; a later one that moved the job's seq was written for its telemetry.
            heard = view.seq >= 0
            view.seq = seq
            view.observe(int(job.get("records_written") or 0), updated, heard=heard)
        if is_terminal(view.status):
            view.seen = epoch(job.get("finished_at")) or view.seen


@dataclass
class MonitorState:
    """Everything the screen shows."""

    started: float
    url: str = ""
    queue_ids: frozenset[str] = frozenset()
    queues: dict[str, QueueView] = field(default_factory=dict)
    messages: int = 0
    reconnects: int = 0
    connected: bool = False
    problem: str | None = None
    """Why the last attempt to reach the service failed, in words."""
    retry_at: float | None = None
    note: str | None = None
    """A lesser problem (the queue list could not be read), shown under the link line."""
    samples: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=120))
    schedules: dict[str, str] = field(default_factory=dict)
    """Each schedule's latest run in words, by name (when following every queue)."""

    def follows(self, queue_id: str) -> bool:
        return bool(queue_id) and (not self.queue_ids or queue_id in self.queue_ids)

    def queue(self, queue_id: str) -> QueueView:
        return self.queues.setdefault(queue_id, QueueView(queue_id))

    def apply(self, message: dict[str, Any], now: float) -> None:
        """Take one /ws/topic message: telemetry, a queue event or a heartbeat."""
        self.messages += 1
        self.samples.append((now, self.messages))
        queue_id = str(message.get("queue_id") or "")
        event = str(message.get("event") or "")
        if event.startswith("schedule.") and not self.queue_ids:
            self._schedule_run(message)
            return
        if not self.follows(queue_id):
            return
        if event == "job.telemetry":
            self._telemetry(self.queue(queue_id), message, now)
        elif event.startswith("queue."):
            queue = self.queue(queue_id)
            if isinstance(message.get("data"), dict) and message["data"]:
                queue.take(message["data"])
            queue.status = str(message.get("status") or queue.status)

    def _schedule_run(self, message: dict[str, Any]) -> None:
        outcome, slot = message.get("outcome"), message.get("slot")
        queue_id = message.get("queue_id")
        detail = f"queue {queue_id}" if queue_id else message.get("reason")
        self.schedules[str(message.get("schedule"))] = f"{outcome} for {slot}: {detail}"

    def take_document(self, document: dict[str, Any]) -> None:
        queue_id = str(document.get("id") or "")
        if self.follows(queue_id):
            self.queue(queue_id).take(document)

    @staticmethod
    def _telemetry(queue: QueueView, message: dict[str, Any], now: float) -> None:
        job = queue.job(str(message.get("job", "")))
        seq = int(message.get("seq", -1))
        if seq <= job.seq:
            return
        job.seq, job.status = seq, str(message.get("status", job.status))
        job.observe(int(message.get("records_written") or 0), now)
        if isinstance(message.get("stats"), dict):
            job.stats = message["stats"]
        if isinstance(message.get("rest_weight"), dict):
            job.rest_weight = message["rest_weight"]
        retry = message.get("retry")
        job.health = {"state": "retrying", **retry} if isinstance(retry, dict) else {"state": "ok"}
        job.gaps = gap_counts(message) or job.gaps
        listed = open_gaps(message)
        job.open_gaps = listed if listed is not None else job.open_gaps

    def unnamed(self) -> list[str]:
        """Queues known only from telemetry: their documents are to be read."""
        return [queue_id for queue_id, queue in self.queues.items() if not queue.known]

    def open_gaps(self) -> list[tuple[QueueView, JobView, dict[str, Any]]]:
        """Every gap not filled yet, of every queue shown, oldest found first."""
        found = [
            (queue, job, gap)
            for queue in self.queues.values()
            for job in queue.jobs.values()
            for gap in job.open_gaps
        ]
        return sorted(found, key=lambda item: int(item[2].get("detected_ms") or 0))

    @property
    def message_rate(self) -> float:
        return per_second(self.samples) or 0.0
