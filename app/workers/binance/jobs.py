"""Which Binance loader a job type means, run until it ends or is asked to stop."""

from __future__ import annotations

from app.aio import until_stopped
from app.models.catalog import is_stream
from app.workers.base import JobContext
from app.workers.binance.market import market_of
from app.workers.binance.rest_history import HistoryRun
from app.workers.binance.settings import BinanceTuning


async def run(ctx: JobContext, tuning: BinanceTuning | None = None) -> None:
    """REST history (`api_*`) or live streams (`ws_*`) for the job's symbols."""
    tuning = tuning or BinanceTuning()
    market = market_of(ctx.env)
    job_type = ctx.env.job_type
    if is_stream(job_type):
        from app.workers.binance.streams import run_streams

        work = run_streams(ctx, market, tuning)
    else:
        work = HistoryRun(ctx, market, tuning).run(job_type)
    await until_stopped(work, ctx.stop_requested)
