"""Prometheus metrics, one registry per app instance (tests build many apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "http_requests_total", "Total HTTP requests", ["method", "route", "status"], registry=r
        )
        self.http_duration = Histogram(
            "http_request_duration_seconds",
            "HTTP request duration",
            ["method", "route", "status"],
            registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.http_refused = Counter(
            "http_refused_total",
            "Requests refused before routing: head too large, too many headers, URL too long, "
            "head too slow",
            ["reason"],
            registry=r,
        )
        self.queue_requests = Counter(
            "queue_requests_total",
            "Total number of queue-related API requests",
            ["action"],
            registry=r,
        )
        self.queues = Gauge("queues", "Queues by status", ["status"], registry=r)
        self.jobs_by_health = Gauge(
            "jobs_by_health",
            "Running jobs by health (ok, retrying, stalled), as of the last stall check",
            ["health"],
            registry=r,
        )
        self.queues_by_health = Gauge(
            "queues_by_health",
            "Active queues by health (ok, retrying, stalled, degraded)",
            ["health"],
            registry=r,
        )
        self._gaps(r)
        self.jobs_launched = Counter("jobs_launched_total", "Jobs launched", ["target"], registry=r)
        self.jobs_failed = Counter(
            "jobs_failed_total", "Jobs that ended in error", ["target"], registry=r
        )
        self.job_retries = Counter(
            "job_retries_total",
            "Failed attempts tried again (the job waits its backoff, then relaunches)",
            ["target"],
            registry=r,
        )
        self.jobs_skipped = Counter(
            "jobs_skipped_total",
            "Jobs skipped: an upstream job failed or stopped",
            ["target"],
            registry=r,
        )
        self.jobs_waiting = Gauge(
            "jobs_waiting",
            "Pending jobs by what they wait for: input, slot, retry or platform",
            ["reason"],
            registry=r,
        )
        self.admission_slots_used = Gauge(
            "admission_slots_in_use", "Running jobs per admission scope", ["scope"], registry=r
        )
        self.admission_lease = Gauge(
            "admission_lease_held", "1 while this replica holds the admission lease", registry=r
        )
        self.admission_slots_limit = Gauge(
            "admission_slots_limit", "Admission limit per scope", ["scope"], registry=r
        )
        self.auth_failures = Counter(
            "auth_failures_total",
            "Requests refused for a missing or wrong token",
            ["route"],
            registry=r,
        )
        self.task_restarts = Counter(
            "background_task_restarts_total",
            "Restarts of a supervised background task after it failed",
            ["task"],
            registry=r,
        )
        self._control_plane(r)
        self._schedules(r)
        self._coverage(r)
        self._weight_budget(r)

    def _schedules(self, r: CollectorRegistry) -> None:
        self.schedule_runs = Counter(
            "schedule_runs_total",
            "Slots of schedules by outcome (triggered, skipped, failed, missed)",
            ["schedule", "outcome"],
            registry=r,
        )
        self.schedule_lag = Histogram(
            "schedule_lag_seconds",
            "From a slot's time to the start of its queue",
            ["schedule"],
            registry=r,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300, 3600),
        )

    def _weight_budget(self, r: CollectorRegistry) -> None:
        """The Binance REST weight budget (app/services/weight_shares.py), per market, from
        the store's view: every replica reports the whole service."""
        self.weight_budget = Gauge(
            "binance_rest_weight_budget",
            "REST weight a minute shared by the running Binance loaders of the market",
            ["market"],
            registry=r,
        )
        self.weight_loaders = Gauge(
            "binance_rest_loaders",
            "Running Binance loaders sharing the budget",
            ["market"],
            registry=r,
        )
        self.weight_share = Gauge(
            "binance_rest_weight_share",
            "Each running loader's share of the budget (weight a minute)",
            ["market"],
            registry=r,
        )
        self.weight_used = Gauge(
            "binance_rest_weight_used",
            "Weight the running loaders sent in their last minute, as they report it",
            ["market"],
            registry=r,
        )
        self.weight_share_messages = Counter(
            "binance_rest_share_messages_total",
            "weight_share commands sent to loaders over queue-control",
            ["market"],
            registry=r,
        )

    def _gaps(self, r: CollectorRegistry) -> None:
        self.gaps_detected = Counter(
            "stream_gaps_detected_total",
            "Gaps found in exchange streams (missing trade ids, aggregate ids, candles)",
            ["exchange"],
            registry=r,
        )
        self.gaps_open = Gauge(
            "stream_gaps_open",
            "Gaps of active queues not (yet) backfilled, as of the last stall check",
            ["exchange"],
            registry=r,
        )
        self.records_backfilled = Counter(
            "records_backfilled_total",
            "Records written by gap backfills",
            ["exchange"],
            registry=r,
        )

    def _control_plane(self, r: CollectorRegistry) -> None:
        self.telemetry_consumed = Counter(
            "telemetry_consumed_total", "Telemetry messages consumed", ["result"], registry=r
        )
        self.commands = Counter(
            "commands_total", "Commands consumed", ["command", "result"], registry=r
        )
        self.dead_lettered = Counter(
            "dead_lettered_total",
            "Messages set aside to the dead-letter topic",
            ["reason"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "consumer_lag_messages",
            "queue-control messages not yet consumed",
            ["partition"],
            registry=r,
        )
        self.outbox_dropped = Counter(
            "outbox_dropped_total",
            "Messages to publish the outbox could not take (full, or over the size limit)",
            registry=r,
        )
        self.ws_clients = Gauge("websocket_clients", "Connected WebSocket clients", registry=r)
        self.ws_sent = Counter("websocket_events_sent_total", "Events sent", registry=r)
        self.ws_dropped = Counter(
            "websocket_events_dropped_total",
            "Events not sent: conflated for a slow client, or rejected (invalid, too large)",
            ["reason"],
            registry=r,
        )

    def _coverage(self, r: CollectorRegistry) -> None:
        self.coverage_reports = Counter(
            "coverage_reports_total", "Coverage reports of connectors merged", registry=r
        )
        self.coverage_days_merged = Counter(
            "coverage_days_merged_total",
            "Day updates merged into the coverage map (a failed load marks each of its days)",
            registry=r,
        )
        self.coverage_days = Gauge(
            "coverage_days",
            "Days of the coverage map by state, over the last 7 days of every stored series "
            "(at most 200), as of the last count (every minute)",
            ["state"],
            registry=r,
        )
        self.coverage_fill_queues = Counter(
            "coverage_fill_queues_total",
            "Queues of POST /coverage/fill: started, would_start (dry run), running (already)",
            ["status"],
            registry=r,
        )
