"""The `loader-producer` target: picks the exchange's loader for the job and runs it."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import cast

from app.errors import InvalidInput
from app.workers.base import JobContext

Loader = Callable[[JobContext], Awaitable[None]]


def loader_for(exchange: str) -> Loader:
    """MOEX is imported lazily: a Binance job never loads the MOEX client, and vice versa."""
    if exchange in ("binance", "binance-futures"):
        from app.workers.binance import jobs

        return jobs.run
    if exchange == "moex":
        module = importlib.import_module("app.workers.moex.loader")
        return cast(Loader, module.run)
    raise InvalidInput(f"no loader for exchange {exchange!r}")


async def main(ctx: JobContext) -> None:
    """Entry point called by app/workers/__main__.py; returns when the job is done."""
    await loader_for(ctx.env.exchange)(ctx)
