"""The monitor's screen (rich): a line about the link to the service, then each queue by
name with one row per job (records, rate, health, last update), and for a stream loader
the seed's per-ticker table (OHLCV or book, updates, last update coloured by freshness)
and its connections online; at the foot, the gaps not backfilled yet."""

from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from app.monitor.state import JobView, MonitorState, QueueView, is_terminal

FRESH_SECONDS = 5.0
STALE_SECONDS = 30.0
MISSING = "—"
PRICE_COLUMNS = (
    ("open", "OPEN", "cyan"),
    ("high", "HIGH", "yellow"),
    ("low", "LOW", "magenta"),
    ("close", "CLOSE", ""),
    ("bid", "BID", "green"),
    ("ask", "ASK", "red"),
    ("last", "LAST", "cyan"),
)


def freshness_style(age_seconds: float) -> str:
    """Green under 5 s, yellow under 30 s, red beyond (seed 000)."""
    if age_seconds < FRESH_SECONDS:
        return "green"
    return "yellow" if age_seconds < STALE_SECONDS else "red"


def render(state: MonitorState, now: float, limit: int = 50, max_queues: int = 8) -> Group:
    """The whole screen; at most `max_queues` queues (running first, newest first) and
    `limit` tickers per stream job (busiest first)."""
    queues = sorted(state.queues.values(), key=lambda q: (is_terminal(q.status), -q.created))
    parts: list[RenderableType] = [_link(state, now)]
    parts += [part for queue in queues[:max_queues] for part in _queue(queue, now, limit)]
    if len(queues) > max_queues:
        parts.append(Text(f"… {len(queues) - max_queues} more queues (--queue-id to choose)"))
    if not queues:
        parts.append(Text(_nothing_yet(state), style="dim"))
    for name, run in sorted(state.schedules.items()):
        parts.append(Text(f"Schedule {name}: {run}", style="cyan"))
    parts.append(open_gaps_footer(state))
    parts.append(Text("Press Ctrl+C to stop", style="dim"))
    return Group(*parts)


def _link(state: MonitorState, now: float) -> Text:
    running = sum(1 for q in state.queues.values() if not is_terminal(q.status))
    line = Text.assemble(
        ("Queue monitor", "bold"),
        f" · {state.url} · ",
        ("online", "green") if state.connected else ("offline", "red"),
        f" | Queues: {running} running, {len(state.queues) - running} ended"
        f" | Rate: {state.message_rate:.1f} msg/s | Uptime: {int(now - state.started)}s",
    )
    if state.problem and not state.connected:
        wait = max(0.0, (state.retry_at or now) - now)
        line.append(
            f"\nCannot reach {state.url}: {state.problem}. "
            f"Next try in {wait:.1f} s (attempt {state.reconnects + 1}).",
            style="red",
        )
    if state.note:
        line.append(f"\n{state.note}", style="yellow")
    return line


def _nothing_yet(state: MonitorState) -> str:
    if not state.connected:
        return "Waiting for the service…"
    return "No running queue yet: start one (POST /queues/start) or follow one with --queue-id."


def _queue(queue: QueueView, now: float, limit: int) -> list[RenderableType]:
    title = Text.assemble(
        "\n",
        (queue.label, "bold"),
        f" · {queue.exchange} · " if queue.exchange else " · ",
        (queue.status or "?", _status_style(queue.status)),
        health_text(queue.health),
        (f"  id {queue.id}", "dim"),
    )
    parts: list[RenderableType] = [title, _jobs(queue, now), *_gap_lines(queue)]
    for job in queue.jobs.values():
        if job.streams_tickers:
            parts += _stream(queue, job, now, limit)
    return parts


def _gap_lines(queue: QueueView) -> list[RenderableType]:
    """One line per job that found gaps; yellow while some are not backfilled."""
    lines: list[RenderableType] = []
    for job in queue.jobs.values():
        if job.gaps and job.gaps["gaps_detected"]:
            name = f"{job.target} · {job.type}" if job.target else job.name
            style = "bold yellow" if job.gaps["gaps_open"] else ""
            lines.append(Text(f"gaps of {name}: {gaps_line(job.gaps)}", style=style))
    return lines


def gaps_line(counts: dict[str, int]) -> str:
    """`3 found, 1 open, 1,234 records backfilled`."""
    return (
        f"{counts['gaps_detected']:,} found, {counts['gaps_open']:,} open, "
        f"{counts['records_backfilled']:,} records backfilled"
    )


SHOWN_GAPS = 3


def open_gaps_footer(state: MonitorState) -> Text:
    """`Open gaps: 2 · BTCUSDT btcusdt@trade trade_id 100..199 (…) · …`: every gap of the
    queues followed that is not backfilled yet, the oldest found first."""
    found = state.open_gaps()
    if not found:
        return Text("\nOpen gaps: none", style="dim")
    line = Text(f"\nOpen gaps: {len(found)}", style="bold yellow")
    for _, _, gap in found[:SHOWN_GAPS]:
        line.append(f" · {_gap_text(gap)}", style="yellow")
    if len(found) > SHOWN_GAPS:
        line.append(f" · … {len(found) - SHOWN_GAPS} more", style="yellow")
    return line


def _gap_text(gap: dict[str, Any]) -> str:
    """`BTCUSDT btcusdt@trade trade_id 100..199 (06-01 12:00:01..06-01 12:00:03 UTC, filling)`."""
    first, last = gap.get("first"), gap.get("last")
    if gap.get("key") == "open_time":
        bounds = f"candles opened {_utc(first)}..{_utc(last)} UTC"
    else:
        times = f"{_utc(gap.get('from_ms'))}..{_utc(gap.get('to_ms'))} UTC"
        bounds = f"{gap.get('key')} {first}..{last} ({times})"
    state = f", {gap.get('state')}" if gap.get("state") != "open" else ""
    reason = f": {str(gap['reason'])[:80]}" if gap.get("reason") else ""
    return f"{gap.get('symbol')} {gap.get('stream')} {bounds}{state}{reason}"


def _utc(epoch_ms: Any) -> str:
    if not isinstance(epoch_ms, int):
        return "?"
    return time.strftime("%m-%d %H:%M:%S", time.gmtime(epoch_ms / 1000))


def _status_style(status: str) -> str:
    styles = {"loading": "green", "error": "red", "stopping": "yellow", "skipped": "dim"}
    return styles.get(status, "")


def health_text(health: dict[str, Any] | None) -> Text:
    """` [retrying · attempt 3 of 20: <error>]` in yellow (stalled too), ` [degraded: …]`
    in red; nothing when all is well."""
    if not health or health.get("state") in (None, "ok"):
        return Text("")
    state = str(health["state"])
    label = state
    if state == "retrying" and health.get("attempt"):
        bound = f" of {health['max_attempts']}" if health.get("max_attempts") else ""
        label = f"retrying · attempt {health['attempt']}{bound}"
    reason = health.get("last_error") or health.get("reason") or ""
    style = "bold red" if state == "degraded" else "bold yellow"
    return Text(f" [{label}{': ' + str(reason)[:160] if reason else ''}]", style=style)


def _jobs(queue: QueueView, now: float) -> Table:
    """One row per job; a `REST weight` column when a Binance loader reports its share, an
    `After` column for a pipeline's upstreams and a `Why` column for waiting and skipped."""
    jobs = list(queue.jobs.values())
    weighted = any(job.rest_weight for job in jobs)
    ordered = any(job.depends_on for job in jobs)
    explained = any(why_text(job).plain for job in jobs)
    table = Table(expand=False, box=None, padding=(0, 1), header_style="bold dim")
    for title in ("Job", "Status", "Records", "Rate/s", "Health", "Last update"):
        table.add_column(title, justify="right" if title in RIGHT_ALIGNED else "left")
    for title, shown in (("REST weight", weighted), ("After", ordered), ("Why", explained)):
        if shown:
            table.add_column(title)
    for job in jobs:
        cells: list[RenderableType] = [
            step_name(job),
            status_text(job),
            f"{job.records:,}",
            MISSING if job.rate is None else f"{job.rate:,.1f}",
            _health_cell(job.health, brief=bool(job.waiting_for)),
            _seen_cell(job, now),
        ]
        cells += [weight_text(job.rest_weight)] if weighted else []
        cells += [upstreams_text(job, queue)] if ordered else []
        table.add_row(*cells, *([why_text(job)] if explained else []))
    return table


RIGHT_ALIGNED = frozenset({"Records", "Rate/s", "Last update"})
SHORT_TARGETS = {
    "loader-producer": "loader",
    "arango-connector": "connector",
    "graph-builder": "graph",
    "gnn-trainer": "gnn",
}
"""Short target names, as the dashboard's graph boxes say them."""


def step_name(job: JobView) -> str:
    return f"{job.target} · {job.type}" if job.target else job.name


def status_text(job: JobView) -> Text:
    """`loading · attempt 2/4` once a job runs again, `pending · attempt 2/4` while it waits
    to (attempt 1 failed; its waiting reason says the same)."""
    text = Text(job.status, _status_style(job.status))
    ran = max(job.attempt, job.attempts)
    attempt = ran + 1 if job.status == "pending" and ran else ran  # waits for its next one
    if attempt > 1:
        bound = f"/{job.max_attempts}" if job.max_attempts else ""
        text.append(f" · attempt {attempt}{bound}", style="bold yellow")
    return text


def upstreams_text(job: JobView, queue: QueueView) -> Text:
    """`connector·api_trades, connector·api_candles_5m`: the jobs this one waits for."""
    names = [_short_step(queue.jobs.get(name), name) for name in job.depends_on]
    return Text(", ".join(names) or MISSING, style="" if names else "dim")


def _short_step(job: JobView | None, name: str) -> str:
    if job is None or not job.target:
        return name
    return f"{SHORT_TARGETS.get(job.target, job.target)}·{job.type}"


def why_text(job: JobView) -> Text:
    """What a pending job waits for (yellow); why a job was skipped (dim)."""
    if job.status == "skipped":
        reason = job.error or job.waiting_for or "an upstream did not finish"
        return Text(reason if reason.startswith("skipped") else f"skipped: {reason}", "dim")
    if job.waiting_for and not is_terminal(job.status):
        return Text(job.waiting_for, style="yellow")
    return Text("")


def weight_text(weight: dict[str, Any] | None) -> Text:
    """`812/2,400 a min · 2 loaders`: weight sent in the last window of the loader's share;
    yellow `waiting` while it waits out a 429/418 or a full budget."""
    if not weight:
        return Text(MISSING, style="dim")
    seconds = float(weight.get("window_seconds") or 60)
    per = "a min" if seconds == 60 else f"per {seconds:g} s"
    loaders = int(weight.get("loaders") or 1)
    text = Text(
        f"{int(weight.get('used') or 0):,}/{int(weight.get('share') or 0):,} {per}"
        f" · {loaders} loader{'' if loaders == 1 else 's'}"
    )
    if weight.get("waiting_until"):
        text.append(" · waiting", style="bold yellow")
    return text


def _health_cell(health: dict[str, Any] | None, brief: bool = False) -> Text:
    """`ok`, `stalled`, `retrying 3/20`: short; the reason is on the queue's line.
    `brief`: the state alone (a job waiting to retry says its attempt beside)."""
    state = (health or {}).get("state")
    if not state:
        return Text(MISSING, style="dim")
    if state == "ok":
        return Text("ok", style="green")
    attempt = health.get("attempt") if health else None
    if state == "retrying" and attempt and not brief:
        bound = f"/{health['max_attempts']}" if health and health.get("max_attempts") else ""
        return Text(f"retrying {attempt}{bound}", style="bold yellow")
    return Text(str(state), style="bold red" if state == "degraded" else "bold yellow")


def _seen_cell(job: JobView, now: float) -> Text:
    if not job.seen:
        return Text(MISSING, style="dim")
    style = "dim" if is_terminal(job.status) else freshness_style(now - job.seen)
    return Text(_clock(job.seen), style=style)


def _clock(moment: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(moment))


def _stream(queue: QueueView, job: JobView, now: float, limit: int) -> list[RenderableType]:
    stats = job.stats or {}
    rows, waiting = _ticker_rows(queue, stats, limit)
    lines: list[RenderableType] = [
        Text(
            f"{job.target or job.name} · {job.type}: "
            f"Connections: {stats.get('connections_online', 0)}/{stats.get('connections_total', 0)}"
            f" | Updates: {int(stats.get('updates') or 0):,}"
            f" | Tickers: {stats.get('tickers_seen', 0)}/{stats.get('tickers_total', 0)}"
            f" | With Prices: {stats.get('with_prices', 0)}"
        ),
        _ticker_table(rows, now),
    ]
    if waiting:
        lines.append(Text(f"… and {waiting} more tickers without an update yet", style="dim"))
    online = stats.get("online")
    if isinstance(online, list):
        lines.append(Text(f"Online ({len(online)}): {_abbreviated(online)}"))
    return lines


def _ticker_rows(
    queue: QueueView, stats: dict[str, Any], limit: int
) -> tuple[list[tuple[str, dict[str, Any] | None]], int]:
    """The busiest tickers of the snapshot, then (when the snapshot holds every ticker that
    updated) the queue's tickers without an update yet, as `None`; and how many of those
    did not fit."""
    figures: dict[str, dict[str, Any]] = stats.get("tickers") or {}
    busiest = sorted(figures.items(), key=lambda item: -int(item[1].get("updates") or 0))
    rows: list[tuple[str, dict[str, Any] | None]] = list(busiest[:limit])
    complete = len(figures) >= int(stats.get("tickers_seen") or 0)
    silent = [t for t in queue.tickers if t not in figures] if complete else []
    room = max(0, limit - len(rows))
    rows += [(ticker, None) for ticker in silent[:room]]
    return rows, len(silent) - min(room, len(silent))


def _ticker_table(rows: list[tuple[str, dict[str, Any] | None]], now: float) -> Table:
    shown = [c for c in PRICE_COLUMNS if any(f and f.get(c[0]) is not None for _, f in rows)]
    table = Table(expand=False)
    table.add_column("Ticker", style="bold")
    for _, title, style in shown:
        table.add_column(title, justify="right", style=style)
    for title in ("Volume", "Upd", "Last Update"):
        table.add_column(title, justify="right")
    for symbol, figures in rows:
        if figures is None:
            table.add_row(symbol, *[MISSING] * len(shown), MISSING, "0", Text(MISSING, "dim"))
            continue
        table.add_row(
            symbol,
            *[_price_cell(name, figures) for name, _, _ in shown],
            _volume(figures.get("volume")),
            str(figures.get("updates") or 0),
            _age_cell(float(figures.get("last_update") or 0), now),
        )
    return table


def _price_cell(name: str, figures: dict[str, Any]) -> Text:
    value = figures.get(name)
    if value is None:
        return Text(MISSING)
    if name != "close" or figures.get("open") is None:
        return Text(str(value))
    rising = _decimal(value) >= _decimal(figures["open"])
    return Text(str(value), style="green" if rising else "red")


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)


def _volume(value: Any) -> str:
    return MISSING if value is None else f"{_decimal(value):,}"


def _age_cell(last_update: float, now: float) -> Text:
    if not last_update:
        return Text(MISSING, style="dim")
    return Text(_clock(last_update), style=freshness_style(now - last_update))


def _abbreviated(numbers: list[Any], head: int = 10) -> str:
    """`1, 2, ..., 10, ... 30`: the seed's connection list, short enough for one line."""
    shown = ", ".join(str(n) for n in numbers[:head])
    return shown + (f", ... {numbers[-1]}" if len(numbers) > head else "")


def summary(state: MonitorState, now: float) -> str:
    return (
        f"Monitored {int(now - state.started)}s: {state.messages} messages, "
        f"{len(state.queues)} queues, {state.reconnects} reconnects."
    )
