"""The MOEX stream job: tickers spread over connections, records to the sink, live stats.

Entry point `run(ctx)` for exchange moex, job types ws_candles / ws_orderbooks /
ws_securities. Runs until `ctx.stop_requested`; access denied fails the job at once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from app.aio import Backoff, stopped_within, until_stopped
from app.workers.backfill import Backfiller
from app.workers.base import JobContext, JobEnv
from app.workers.gaps import GapBook
from app.workers.health import GaveUp
from app.workers.live_stats import LiveStats
from app.workers.moex.connection import ConnectionSettings, MoexConnection
from app.workers.moex.decode import Message
from app.workers.moex.errors import MoexError, MoexJobInvalid
from app.workers.moex.iss import IssCandles, IssRejected, IssUnavailable
from app.workers.moex.subscriptions import INTERVALS, Subscription, stream_for, subscription_for


@dataclass(frozen=True)
class LoaderOptions:
    """Tunables; any of them may be set in the request JSON under the same name."""

    tickers_per_connection: int = 50
    subscribe_delay: float = 0.02
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    stats_interval: float = 1.0
    stats_tickers: int = 50
    market: str = "MXSE"
    board: str = "TQBR"
    iss_give_up: float = 120.0
    """Seconds of failing ISS requests after which a backfill is `failed` (and retried)."""

    @classmethod
    def from_request(cls, request: dict[str, Any]) -> LoaderOptions:
        known = {f.name for f in fields(cls)}
        return cls(**{name: value for name, value in request.items() if name in known})


async def run(ctx: JobContext, options: LoaderOptions | None = None) -> None:
    """Stream until stopped; raise MoexError subclasses (our errors) on fatal failures."""
    options = options or LoaderOptions.from_request(ctx.env.request)
    groups = plan(ctx.env, options)
    stats = LiveStats(connections_total=len(groups), tickers_total=sum(map(len, groups)))
    iss = IssCandles(ctx.env.moex_iss_url, ctx, options.iss_give_up)
    backfill = _backfiller(ctx, stats, iss, options) if ctx.env.job_type == "ws_candles" else None
    connections = _connections(ctx, options, groups, stats, backfill)
    try:
        async with asyncio.TaskGroup() as group:
            for connection in connections:
                group.create_task(connection.run())
            group.create_task(_report_until_stopped(ctx, stats, options))
            if backfill is not None:
                group.create_task(until_stopped(backfill.run(), ctx.stop_requested))
    except* Exception as failure:
        raise _first_cause(failure) from None
    finally:
        _report(ctx, stats, options)
        await iss.aclose()
    await ctx.sink.flush()


def _backfiller(
    ctx: JobContext, stats: LiveStats, iss: IssCandles, options: LoaderOptions
) -> Backfiller:
    """Candles a stream missed (its closes, across a reconnect) filled from ISS."""

    async def write(records: list[Any]) -> None:
        await ctx.sink.send(records)
        stats.records += len(records)

    book = GapBook(ctx.report_gaps)
    ctx.report_gaps(book.summary())  # none yet: the job is seen to watch for them
    return Backfiller(
        book,
        iss,
        write,
        permanent=(IssRejected, MoexJobInvalid),
        transient=(IssUnavailable, GaveUp),
        backoff=Backoff(options.backoff_initial, options.backoff_max),
    )


def _first_cause(group: BaseExceptionGroup[Exception]) -> Exception:
    """One clear error for the job's telemetry: ours (access denied) first, else the first."""
    ours = group.subgroup(MoexError)
    leaves = (ours or group).exceptions
    first = leaves[0]
    return _first_cause(first) if isinstance(first, BaseExceptionGroup) else first


def plan(env: JobEnv, options: LoaderOptions) -> list[list[Subscription]]:
    """One subscription per ticker, `tickers_per_connection` of them per connection."""
    tickers = list(dict.fromkeys(env.symbol_list))
    if not tickers:
        raise MoexJobInvalid("a MOEX stream job needs at least one ticker (SYMBOLS)")
    stream, interval = stream_for(env.job_type), _interval(env)
    subscriptions = [
        subscription_for(t, stream, interval, options.market, options.board) for t in tickers
    ]
    size = max(1, options.tickers_per_connection)
    return [subscriptions[i : i + size] for i in range(0, len(subscriptions), size)]


def _interval(env: JobEnv) -> str | None:
    if env.job_type != "ws_candles":
        return None
    interval = str(env.request.get("interval") or "M1")
    if interval not in INTERVALS:
        raise MoexJobInvalid(f"unknown MOEX candle interval {interval!r}")
    return interval


def _connections(
    ctx: JobContext,
    options: LoaderOptions,
    groups: list[list[Subscription]],
    stats: LiveStats,
    backfill: Backfiller | None,
) -> list[MoexConnection]:
    settings = connection_settings(ctx.env, options)

    async def deliver(subscription: Subscription, message: Message) -> None:
        records = subscription.records(message)
        stats.observe(records)
        if records:
            await ctx.sink.send(records)
        if backfill is not None and (missed := subscription.take_missed()):
            symbol, stream = subscription.symbol, subscription.stream_name
            backfill.submit(backfill.book.found(symbol, stream, "open_time", *missed, missed))

    return [
        MoexConnection(
            number,
            settings,
            subs,
            handler=deliver,
            stats=stats,
            stop=ctx.stop_requested,
            warn=ctx.warn,
            retries=ctx,
        )
        for number, subs in enumerate(groups, start=1)
    ]


def connection_settings(env: JobEnv, options: LoaderOptions) -> ConnectionSettings:
    return ConnectionSettings(
        url=env.moex_ws_url,
        domain=env.moex_domain,
        login=env.moex_login,
        passcode=env.moex_passcode.get_secret_value(),
        subscribe_delay=options.subscribe_delay,
        backoff_initial=options.backoff_initial,
        backoff_max=options.backoff_max,
    )


async def _report_until_stopped(ctx: JobContext, stats: LiveStats, options: LoaderOptions) -> None:
    while not await stopped_within(ctx.stop_requested, options.stats_interval):
        _report(ctx, stats, options)


def _report(ctx: JobContext, stats: LiveStats, options: LoaderOptions) -> None:
    """Progress for telemetry; live stats when the runtime offers `set_stats`."""
    last = stats.last_event_ms
    stamp = datetime.fromtimestamp(last / 1000, UTC).isoformat() if last else None
    ctx.progress(stats.records, stamp)
    set_stats = getattr(ctx, "set_stats", None)
    if callable(set_stats):
        set_stats(stats.snapshot(options.stats_tickers))
