"""What a new user meets first: `make run` and `queue-manager serve` bind where the settings
say (environment, `.env`, a flag over both), start without an error line, and the CLI's
help names its real commands."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from app.bus.embedded import free_port
from app.cli import cli, service_url
from app.config import Settings
from tests.fixtures.service import CLI, started

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(90)


def records(log_path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]


def answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_make_run_serves_on_port_from_the_environment_without_error_lines(
    tmp_path: Path,
) -> None:
    port, log = free_port(), tmp_path / "run.log"
    env: dict[str, str | None] = {
        "PORT": str(port),
        "DATA_DIR": str(tmp_path / "var"),
        "LOG_FORMAT": "json",
    }
    argv = ["make", "-s", "run"]
    with started(argv, env, log, port, cwd=ROOT, whole_group=True):
        lines = records(log)
    assert any(r["event"] == "queue-manager started" and r["port"] == port for r in lines)
    assert [r for r in lines if r["level"] in ("error", "critical")] == []
    assert not any("Unable connect" in str(r["event"]) for r in lines)


def test_serve_takes_the_port_from_dot_env(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / ".env").write_text(f"PORT={port}\nDATA_DIR=var\n")
    env: dict[str, str | None] = {"PORT": None, "DATA_DIR": None, "LOG_FORMAT": "json"}
    with started([*CLI, "serve"], env, tmp_path / "serve.log", port, cwd=tmp_path):
        assert answers(port)
    assert (tmp_path / "var" / "queue-manager.db").exists(), "DATA_DIR from .env too"


def test_the_port_flag_overrides_the_setting(tmp_path: Path) -> None:
    setting, flag = free_port(), free_port()
    env: dict[str, str | None] = {"PORT": str(setting), "DATA_DIR": str(tmp_path / "var")}
    argv = [*CLI, "serve", "--port", str(flag)]
    with started(argv, env, tmp_path / "serve.log", flag, cwd=tmp_path):
        assert answers(flag) and not answers(setting)


def test_help_names_the_commands_there_are_and_no_others() -> None:
    result = CliRunner().invoke(cli, ["--help"], terminal_width=200)
    assert result.exit_code == 0
    commands = set(typer.main.get_group(cli).commands)
    assert commands == {"serve", "monitor"}
    assert all(f" {name} " in result.output for name in commands)
    assert "run a job" not in result.output
    for name in commands:
        sub = CliRunner().invoke(cli, [name, "--help"], terminal_width=200)
        assert sub.exit_code == 0 and "Usage: " in sub.output


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("127.0.0.1", 8300, "ws://127.0.0.1:8300/ws/topic"),
        ("0.0.0.0", 8000, "ws://127.0.0.1:8000/ws/topic"),
        ("::", 9000, "ws://[::1]:9000/ws/topic"),
        ("qm.example", 80, "ws://qm.example:80/ws/topic"),
    ],
)
def test_the_monitor_follows_the_service_where_the_settings_put_it(
    host: str, port: int, url: str
) -> None:
    settings = Settings(_env_file=None, host=host, port=port)
    assert service_url(settings) == url
