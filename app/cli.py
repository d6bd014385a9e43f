"""The `queue-manager` command: `serve` runs the API, `monitor` watches queues live.

Both read the settings (environment and `.env`): `serve` binds HOST:PORT, `monitor` follows
the service at that address. The jobs are not started from here but by the service
(`python -m app.workers TARGET`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from app.config import Settings, settings_or_exit
from app.datadir_lock import DataDirInUse, DataDirLock
from app.logging import configure_logging

cli = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


@cli.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="address to bind [default: HOST, else 127.0.0.1]")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="port to bind [default: PORT, else 8000]")
    ] = None,
) -> None:
    """Run the service; with no settings it embeds SQLite, a Kafka broker and local jobs."""
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = settings_or_exit(**overrides)
    configure_logging(settings.log_level, settings.log_format)
    from app.main import create_app
    from app.metrics import Metrics
    from app.security import check_exposure
    from app.server import server_options

    lock = _lock_data_dir_or_exit(settings.data_dir)
    check_exposure(settings)
    metrics = Metrics()
    try:
        uvicorn.run(create_app(settings, metrics), **server_options(settings, metrics))
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C once it has shut down cleanly
        raise SystemExit(130) from None
    finally:
        lock.release()


def _lock_data_dir_or_exit(data_dir: Path) -> DataDirLock:
    """One service per DATA_DIR: a second one exits 2 before it touches anything."""
    lock = DataDirLock(data_dir)
    try:
        lock.acquire()
    except DataDirInUse as error:
        print(f"queue-manager serve: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    return lock


@cli.command()
def monitor(
    url: Annotated[
        str | None,
        typer.Option(help="the service's URL or /ws/topic URL [default: from HOST and PORT]"),
    ] = None,
    queue_id: Annotated[list[str] | None, typer.Option(help="follow only these queues")] = None,
    token: Annotated[
        str | None,
        typer.Option(envvar="API_TOKEN", help="bearer token [default: the first of API_TOKENS]"),
    ] = None,
) -> None:
    """Live console view of every queue: tickers of streams, one row per other job."""
    from app.monitor import run_monitor

    settings = settings_or_exit()
    run_monitor(url or service_url(settings), queue_id or [], token or _first_token(settings))


def service_url(settings: Settings) -> str:
    """Where a client on this machine reaches the service bound to HOST:PORT."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(settings.host, settings.host)
    if ":" in host:
        host = f"[{host}]"
    return f"ws://{host}:{settings.port}/ws/topic"


def _first_token(settings: Settings) -> str | None:
    return next(iter(settings.token_list), None)


def main() -> None:
    cli()
