"""Health in the dashboard, in a real headless Chromium against the real service: a loader
that cannot reach Binance is `retrying` (amber, with the attempt and the error) in the list
and in the queue view; a queue where one job failed while another runs is `degraded` (red).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from app.bus.embedded import free_port
from tests.e2e.browser import screenshot
from tests.fixtures.app import scripted
from tests.fixtures.service import ServiceProcess, service

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
UNREACHABLE = f"http://127.0.0.1:{free_port()}"
PIPELINE = {
    "symbol": "BTCUSDT",
    "time_range": "2024-06-01:2024-06-02",
    "requests": [
        {"target": "loader-producer", "type": "api_candles_5m", "interval": "5m"},
        {
            "target": "graph-builder",
            "type": "gnn_graph",
            "collection_inputs": ["btc_candles_5m_20240601_20240602"],
            "collection_output": "btc_graph",
        },
    ],
}


@pytest.fixture
def running(tmp_path: Path) -> Iterator[ServiceProcess]:
    (tmp_path / "targets.json").write_text(json.dumps({"graph-builder": scripted("exit", "4")}))
    env = {
        "DATA_DIR": str(tmp_path / "var"),
        "TARGETS_FILE": str(tmp_path / "targets.json"),
        "BINANCE_REST_URL": UNREACHABLE,
        "HISTORY_GIVE_UP_SECONDS": "300",
        "TELEMETRY_INTERVAL_SECONDS": "0.5",
        "JOB_STOP_GRACE_SECONDS": "2",
    }
    with service(env, tmp_path / "service.log") as process:
        yield process


def health_badge(driver: WebDriver, css: str) -> str:
    return look(driver, f"{css} .badge.health", "textContent")


def look(driver: WebDriver, css: str, what: str) -> str:
    """A property of the element now (rows are rebuilt on every update: no stale handles)."""
    script = "const e = document.querySelector(arguments[0]); return e ? e[arguments[1]] : ''"
    return str(driver.execute_script(script, css, what))


def colour(driver: WebDriver, css: str) -> str:
    script = "return getComputedStyle(document.querySelector(arguments[0])).backgroundColor"
    return str(driver.execute_script(script, css))


def test_retrying_is_amber_and_degraded_red_in_the_list_and_the_queue_view(
    running: ServiceProcess, browser: WebDriver
) -> None:
    started = httpx.post(f"{running.url}/queues/start", json=PIPELINE, timeout=10)
    assert started.status_code == 200, started.text
    queue_id = started.json()["data"]["queue_id"]
    browser.get(running.url + "/")
    row = f'tr[data-queue-id="{queue_id}"]'
    wait = WebDriverWait(browser, 30)
    wait.until(lambda d: health_badge(d, row) == "degraded")  # graph-builder failed at once
    assert colour(browser, f"{row} .badge.health") == "rgb(253, 226, 223)"  # red (--bad-bg)
    note = look(browser, f"{row} .health-note", "textContent")
    assert "graph-builder (gnn_graph) failed: exit code 4" in note

    browser.find_element(By.CSS_SELECTOR, f"{row} a").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "queue-title"), "degraded"))
    loader = '#jobs tr[data-job*="loader-producer"]'
    wait.until(lambda d: health_badge(d, loader).startswith("retrying · attempt"))
    assert health_badge(browser, loader).endswith(" of 20")
    assert colour(browser, f"{loader} .badge.health") == "rgb(255, 241, 194)"  # amber
    note = look(browser, f"{loader} .health-note", "textContent")
    assert f"GET {UNREACHABLE}/api/v3/klines" in note and "ConnectError" in note
    screenshot(browser, "dashboard-health-1280x800.png")

    browser.find_element(By.ID, "stop-button").click()
    browser.find_element(By.ID, "confirm-stop-yes").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "queue-title"), "error"))
    assert health_badge(browser, "#queue-title") == ""
