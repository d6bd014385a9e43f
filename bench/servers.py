"""Servers a benchmark measures, each in its own process (like production, not in-process)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from fastapi import FastAPI

from app.children import tied_to_parent

bare_app = FastAPI()


@bare_app.get("/bare/{item_id}")
async def bare_route(item_id: str) -> dict[str, object]:
    """The baseline: a FastAPI route doing no work, served by the same uvicorn."""
    return {"status": "success", "message": "bare", "data": {"id": item_id}}


UVICORN_FLAGS = ["--log-level", "warning", "--no-access-log"]


def bare_command(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.servers:bare_app",
        "--port",
        str(port),
        *UVICORN_FLAGS,
    ]


SERVICE_PROTOCOLS = [
    "--http",
    "app.http_limits:LimitedHttpProtocol",
    "--ws",
    "app.ws_protocol:AnsweringWebSocketProtocol",
]
"""As `queue-manager serve` runs (app/server.py): head limits at the protocol layer."""


def service_command(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "bench.servers:service_app",
        "--port",
        str(port),
        *SERVICE_PROTOCOLS,
        *UVICORN_FLAGS,
    ]


def service_app() -> FastAPI:
    """The real queue-manager, built from the environment like `queue-manager serve`."""
    from app.logging import configure_logging
    from app.main import create_app

    configure_logging("WARNING")
    return create_app()


@contextmanager
def serving(
    command: list[str], port: int, env: dict[str, str] | None = None, health: str = "/health/live"
) -> Iterator[int]:
    with served_process(command, port, env, health):
        yield port


@contextmanager
def served_process(
    command: list[str], port: int, env: dict[str, str] | None = None, health: str = "/health/live"
) -> Iterator[subprocess.Popen[bytes]]:
    """As `serving`, giving the process (its pid: CPU time, profiling)."""
    argv, options = tied_to_parent(command)  # a benchmark killed half-way leaves no server
    process = subprocess.Popen(
        argv,
        **options,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(port, health, process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait(port: int, path: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"server on {port} did not start")
