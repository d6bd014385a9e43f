"""`queue-manager monitor`: a live console view of stream jobs over the service's /ws/topic.

The MOEX monitor of seed 000/001 as a client of the queue-manager: it reads job telemetry
(whose `stats` carry connections, update counts and latest prices) and queue events, and
redraws a rich table once a second, with last-update times coloured by freshness.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import orjson
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from app.workers.moex.backoff import Backoff
from app.workers.moex.tasks import background, until_stopped

FRESH_SECONDS = 5.0
STALE_SECONDS = 30.0
RATE_WINDOW_SECONDS = 10.0
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
    """Green under 5 s, yellow under 30 s, red beyond: how stale a ticker's data is."""
    if age_seconds < FRESH_SECONDS:
        return "green"
    return "yellow" if age_seconds < STALE_SECONDS else "red"


@dataclass
class MonitorState:
    """Everything the view shows, built only from the messages received."""

    started: float
    jobs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    queues: dict[str, str] = field(default_factory=dict)
    health: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Each queue's `health` from its latest event (retrying, stalled, degraded or ok)."""
    messages: int = 0
    reconnects: int = 0
    connected: bool = False
    queue_ids: frozenset[str] = frozenset()
    samples: deque[tuple[float, int, int]] = field(default_factory=lambda: deque(maxlen=120))

    def apply(self, message: dict[str, Any], now: float) -> None:
        """Take one /ws/topic message: telemetry, a queue event or a heartbeat."""
        self.messages += 1
        queue_id = str(message.get("queue_id", ""))
        if self.queue_ids and queue_id and queue_id not in self.queue_ids:
            return
        event = str(message.get("event") or message.get("type") or "")
        if event in ("job.telemetry", "telemetry"):
            self.jobs[(queue_id, str(message.get("job", "")))] = message
        elif event.startswith("queue.") and queue_id:
            self.queues[queue_id] = str(message.get("status", event.removeprefix("queue.")))
            health = (message.get("data") or {}).get("health")
            if isinstance(health, dict):
                self.health[queue_id] = health
        self.samples.append((now, self.total("updates"), self.messages))

    def total(self, name: str) -> int:
        return sum(int((job.get("stats") or {}).get(name) or 0) for job in self.jobs.values())

    def rate(self, index: int) -> float:
        """Per-second rate of a sampled counter (1 updates, 2 messages) over the last 10 s."""
        if not self.samples:
            return 0.0
        latest = self.samples[-1]
        window = [s for s in self.samples if latest[0] - s[0] <= RATE_WINDOW_SECONDS]
        elapsed = latest[0] - window[0][0]
        return (latest[index] - window[0][index]) / elapsed if elapsed > 0 else 0.0

    def tickers(self) -> dict[str, dict[str, Any]]:
        """Per-ticker figures merged over jobs (a candles and a book job may share tickers)."""
        merged: dict[str, dict[str, Any]] = {}
        for job in self.jobs.values():
            for symbol, figures in ((job.get("stats") or {}).get("tickers") or {}).items():
                _merge(merged.setdefault(symbol, {"updates": 0, "last_update": 0.0}), figures)
        return merged


def _merge(into: dict[str, Any], figures: dict[str, Any]) -> None:
    into["updates"] += int(figures.get("updates") or 0)
    into["last_update"] = max(into["last_update"], float(figures.get("last_update") or 0))
    for name, value in figures.items():
        if name not in ("updates", "last_update") and value is not None:
            into[name] = value


def render(state: MonitorState, now: float, limit: int = 50) -> Group:
    """The whole screen: a summary line, queue statuses, the busiest tickers."""
    tickers = sorted(state.tickers().items(), key=lambda item: -item[1]["updates"])[:limit]
    return Group(
        _summary(state, now),
        _queues(state),
        _table(tickers, now),
        Text("Press Ctrl+C to stop", style="dim"),
    )


def _summary(state: MonitorState, now: float) -> Text:
    link = Text("online", "green") if state.connected else Text("reconnecting", "red")
    return Text.assemble(
        f"Connections: {state.total('connections_online')}/{state.total('connections_total')}"
        f" | Updates: {state.total('updates'):,}"
        f" | Tickers: {state.total('tickers_seen')}/{state.total('tickers_total')}"
        f" | With Prices: {state.total('with_prices')}"
        f" | Rate: {state.rate(1):.1f} upd/s, {state.rate(2):.1f} msg/s"
        f" | Uptime: {int(now - state.started)}s | Stream: ",
        link,
    )


def _queues(state: MonitorState) -> Text:
    jobs = {queue: str(job.get("status", "")) for (queue, _), job in state.jobs.items()}
    statuses = {**jobs, **state.queues}
    listed = ", ".join(f"{queue}: {status}" for queue, status in sorted(statuses.items()))
    text = Text(f"Queues: {listed or 'waiting for telemetry...'}")
    for queue in sorted(statuses):
        if health := health_text(state.health.get(queue)):
            text.append(f"\n{queue}")
            text.append_text(health)
    for (_, job), message in sorted(state.jobs.items()):
        text.append_text(_job_lines(job, message))
    return text


def health_text(health: dict[str, Any] | None) -> Text:
    """` retrying · attempt 3 of 20: <error>` in yellow (stalled too), ` degraded: …` in
    red; nothing when all is well."""
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


def _job_lines(job: str, message: dict[str, Any]) -> Text:
    lines = Text()
    retry = message.get("retry")
    if isinstance(retry, dict):
        lines.append(f"\n{job}")
        lines.append_text(health_text({"state": "retrying", **retry}))
    online = (message.get("stats") or {}).get("online")
    if isinstance(online, list):
        lines.append(f"\n{job} online ({len(online)}): {_abbreviated(online)}")
    return lines


def _abbreviated(numbers: list[Any], head: int = 10) -> str:
    """`1, 2, ..., 10, ... 30`: the seed's connection list, short enough for one line."""
    shown = ", ".join(str(n) for n in numbers[:head])
    return shown + (f", ... {numbers[-1]}" if len(numbers) > head else "")


def _table(tickers: list[tuple[str, dict[str, Any]]], now: float) -> Table:
    shown = [c for c in PRICE_COLUMNS if any(f.get(c[0]) is not None for _, f in tickers)]
    table = Table(expand=False)
    table.add_column("Ticker", style="bold")
    for _, title, style in shown:
        table.add_column(title, justify="right", style=style)
    for title in ("Volume", "Upd", "Last Update"):
        table.add_column(title, justify="right")
    for symbol, figures in tickers:
        prices = [_price_cell(name, figures) for name, _, _ in shown]
        table.add_row(
            symbol,
            *prices,
            _volume(figures.get("volume")),
            str(figures["updates"]),
            _age_cell(figures["last_update"], now),
        )
    return table


def _price_cell(name: str, figures: dict[str, Any]) -> Text:
    value = figures.get(name)
    if name != "close" or value is None or figures.get("open") is None:
        return Text(str(value) if value is not None else "-")
    rising = _decimal(value) >= _decimal(figures["open"])
    return Text(str(value), style="green" if rising else "red")


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)


def _volume(value: Any) -> str:
    return "-" if value is None else f"{_decimal(value):,}"


def _age_cell(last_update: float, now: float) -> Text:
    if not last_update:
        return Text("-", style="dim")
    clock = time.strftime("%H:%M:%S", time.localtime(last_update))
    return Text(clock, style=freshness_style(now - last_update))


def topic_url(url: str, queue_ids: list[str]) -> str:
    """`http://host:8000` -> `ws://host:8000/ws/topic?queue_id=a&queue_id=b`."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme or "ws")
    path = parts.path.rstrip("/")
    path = path if path.endswith("/ws/topic") else path + "/ws/topic"
    query = "&".join(q for q in (parts.query, urlencode([("queue_id", q) for q in queue_ids])) if q)
    return urlunsplit((scheme, parts.netloc, path, query, ""))


@dataclass(frozen=True)
class MonitorOptions:
    refresh_seconds: float = 1.0
    backoff_initial: float = 0.5
    backoff_max: float = 10.0
    clock: Callable[[], float] = time.time
    on_message: Callable[[MonitorState], None] | None = None


async def monitor(
    url: str,
    queue_ids: list[str],
    token: str | None,
    *,
    console: Console,
    state: MonitorState,
    stop: asyncio.Event,
    options: MonitorOptions | None = None,
) -> None:
    """Follow /ws/topic and redraw until `stop` is set; reconnect when the socket drops."""
    options = options or MonitorOptions()
    state.queue_ids = frozenset(queue_ids)
    with Live(render(state, options.clock()), console=console, auto_refresh=False) as live:
        async with background(_redraw(live, state, options)):
            await until_stopped(_follow(url, queue_ids, token, state, options), stop)
        live.update(render(state, options.clock()), refresh=True)


async def _redraw(live: Live, state: MonitorState, options: MonitorOptions) -> None:
    while True:
        live.update(render(state, options.clock()), refresh=True)
        await asyncio.sleep(options.refresh_seconds)


async def _follow(
    url: str, queue_ids: list[str], token: str | None, state: MonitorState, options: MonitorOptions
) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    backoff = Backoff(options.backoff_initial, options.backoff_max)
    while True:
        with contextlib.suppress(OSError, TimeoutError, WebSocketException):
            async with connect(
                topic_url(url, queue_ids), additional_headers=headers, proxy=None
            ) as ws:
                state.connected = True
                backoff.reset()
                async for data in ws:
                    _take(state, data, options)
        state.connected = False
        state.reconnects += 1
        await asyncio.sleep(backoff.next_delay())


def _take(state: MonitorState, data: str | bytes, options: MonitorOptions) -> None:
    try:
        message = orjson.loads(data)
    except orjson.JSONDecodeError:
        return  # a `?format=text` line or garbage: nothing to show
    if isinstance(message, dict):
        state.apply(message, options.clock())
        if options.on_message is not None:
            options.on_message(state)


def summary(state: MonitorState, now: float) -> str:
    return (
        f"Monitored {int(now - state.started)}s: {state.messages} messages, "
        f"{state.total('updates'):,} updates, {state.total('tickers_seen')} tickers seen, "
        f"{state.reconnects} reconnects."
    )


def run_monitor(url: str, queue_ids: list[str], token: str | None) -> None:
    """CLI entry: run until Ctrl+C, then print a summary instead of a traceback."""
    console = Console()
    state = MonitorState(started=time.time())
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            monitor(url, queue_ids, token, console=console, state=state, stop=asyncio.Event())
        )
    console.line()
    console.print(summary(state, time.time()))
