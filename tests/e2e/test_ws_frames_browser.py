"""Chromium takes the fan-out's shared frames: small ones uncompressed, large ones
compressed once for every follower (app/ws_frames.py), on a connection that negotiated
permessage-deflate, against the real `queue-manager serve` process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from app.ws_frames import COMPRESS_FROM_BYTES
from tests.fixtures.app import scripted
from tests.fixtures.service import ServiceProcess, service

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
TARGETS = {"loader-producer": scripted("sleep", "30"), "arango-connector": scripted("sleep", "30")}
LISTEN = """
window.got = []; window.opened = null;
const ws = new WebSocket(arguments[0]);
ws.onopen = () => { window.opened = ws.extensions; };
ws.onmessage = (m) => window.got.push(m.data);
ws.onclose = (c) => window.got.push("closed " + c.code);
"""
MANY_REQUESTS = {
    "symbol": "BTCUSDT",
    "time_range": "2024-01-01:2024-01-03",
    "requests": [
        {"type": "api_candles_1m", "target": "loader-producer"},
        {"type": "api_trades", "target": "loader-producer"},
        {"type": "api_candles_1m", "target": "arango-connector"},
        {"type": "api_trades", "target": "arango-connector"},
    ],
}


@pytest.fixture
def running(tmp_path: Path) -> Iterator[ServiceProcess]:
    (tmp_path / "targets.json").write_text(json.dumps(TARGETS))
    env = {"DATA_DIR": str(tmp_path / "var"), "TARGETS_FILE": str(tmp_path / "targets.json")}
    with service(env, tmp_path / "service.log") as process:
        yield process


def test_chromium_reads_small_and_compressed_once_frames(
    running: ServiceProcess, browser: WebDriver
) -> None:
    browser.get(f"{running.url}/health/live")
    browser.execute_script(LISTEN, running.url.replace("http://", "ws://") + "/ws/topic")
    extensions = WebDriverWait(browser, 15).until(lambda d: d.execute_script("return opened"))
    assert "permessage-deflate" in extensions and "server_no_context_takeover" in extensions
    answer = httpx.post(f"{running.url}/queues/start", json=MANY_REQUESTS, timeout=10)
    assert answer.status_code == 200, answer.text
    got: list[str] = WebDriverWait(browser, 15).until(
        lambda d: _large_event(d.execute_script("return got"))
    )
    assert not [m for m in got if m.startswith("closed")], got
    sizes = [len(m.encode()) for m in got]
    assert min(sizes) < COMPRESS_FROM_BYTES <= max(sizes), sizes
    assert all(json.loads(m) for m in got)


def _large_event(got: list[Any]) -> list[str] | Literal[False]:
    """All messages once a queue event over the compression threshold arrived."""
    large = [m for m in got if len(str(m).encode()) >= COMPRESS_FROM_BYTES]
    return [str(m) for m in got] if large else False
