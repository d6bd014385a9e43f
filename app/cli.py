"""The `queue-manager` command: serve the API, watch queues live, run a job."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from app.config import settings_or_exit
from app.logging import configure_logging

cli = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to bind (HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port to bind (PORT)")] = None,
) -> None:
    """Run the service; with no settings it embeds SQLite, a Kafka broker and local jobs."""
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = settings_or_exit(**overrides)
    configure_logging(settings.log_level)
    from app.main import create_app
    from app.security import check_exposure

    check_exposure(settings)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        ws_max_size=65536,
    )


@cli.command()
def monitor(
    url: Annotated[str, typer.Option(help="the service's /ws/topic URL")] = (
        "ws://127.0.0.1:8000/ws/topic"
    ),
    queue_id: Annotated[list[str] | None, typer.Option(help="follow only these queues")] = None,
    token: Annotated[str | None, typer.Option(envvar="API_TOKEN", help="bearer token")] = None,
) -> None:
    """Live console view of queues and tickers over /ws/topic (Ctrl+C to quit)."""
    from app.monitor import run_monitor

    run_monitor(url, queue_id or [], token)


def main() -> None:
    cli()
