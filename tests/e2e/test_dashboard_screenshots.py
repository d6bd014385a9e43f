"""The README's pictures, taken from the real service running demo jobs on the real runtime:
queues loading (records per second shown), one finished (in an earlier run of the service on
the same DATA_DIR), one stopped, and a queue's chart.

Always checks what the pictures show; rewrites docs/dashboard.png and docs/dashboard-queue.png
only with UPDATE_DOCS_SCREENSHOT=1."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.browser import chromium, screenshot
from tests.e2e.test_dashboard_browser import row_status
from tests.fixtures.eventually import eventually_sync
from tests.fixtures.service import ServiceProcess, service

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]
DOCS = Path(__file__).resolve().parents[2] / "docs"


def demo(records: int, batch: int, interval_ms: int, **env: str) -> dict[str, Any]:
    request = {"records": records, "batch": batch, "interval_ms": interval_ms}
    return {
        "command": ["python", "-m", "app.workers", "demo-job"],
        "env": {"DEMO_JSON": json.dumps(request), **env},
    }


# A first run of the service loads a small queue to its end; the second one (same DATA_DIR)
# runs data jobs that load for minutes. The quick jobs last ~6 s: telemetry sent in the first
# seconds after /health/ready can be lost while the consumer joins its group.
QUICK = {"loader-producer": demo(3_000, 100, 200), "arango-connector": demo(1_500, 50, 200)}
LONG = {"loader-producer": demo(100_000, 100, 200), "arango-connector": demo(100_000, 40, 200)}
RANGE = "2024-06-01:2024-06-30"


def run_with(targets: dict[str, Any], tmp_path: Path) -> Any:
    (tmp_path / "targets.json").write_text(json.dumps(targets))
    env = {
        "DATA_DIR": str(tmp_path / "var"),
        "TARGETS_FILE": str(tmp_path / "targets.json"),
        "TELEMETRY_INTERVAL_SECONDS": "0.5",
        "JOB_STOP_GRACE_SECONDS": "2",
    }
    return service(env, tmp_path / "service.log")


def wait_for_status(http: httpx.Client, queue_id: str, status: str, within: float = 30) -> None:
    eventually_sync(
        lambda: http.get(f"/queues/{queue_id}").json()["data"]["status"],
        lambda now: now == status,
        within=within,
        what=f"{queue_id} {status}",
    )


@pytest.fixture
def demo_service(tmp_path: Path) -> Iterator[tuple[ServiceProcess, str]]:
    with run_with(QUICK, tmp_path) as quick, httpx.Client(base_url=quick.url, timeout=10) as http:
        finished = start(http, {"symbol": "SOLUSDT", "type": "api"})
        wait_for_status(http, finished, "finished")
        assert http.get(f"/queues/{finished}").json()["data"]["records_written"] > 0
    with run_with(LONG, tmp_path) as process:
        yield process, finished


def start(http: httpx.Client, body: dict[str, Any]) -> str:
    response = http.post("/queues/start", json={"time_range": RANGE, **body})
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["queue_id"])


def wait(driver: WebDriver, seconds: float = 15) -> WebDriverWait[WebDriver]:
    """Rows are redrawn several times a second here: a cell read mid-redraw is read again."""
    ignored = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(driver, seconds, ignored_exceptions=ignored)


def rate_shown(queue_id: str) -> Any:
    css = f'tr[data-queue-id="{queue_id}"] td[data-label="Rec/s"]'
    return lambda d: any(
        c.text not in {"", "—", "0.0"} for c in d.find_elements(By.CSS_SELECTOR, css)
    )


def shows(queue_id: str, status: str) -> Any:
    return lambda d: row_status(queue_id)(d) == status


def records(driver: WebDriver, queue_id: str) -> int:
    css = f'tr[data-queue-id="{queue_id}"] td[data-label="Records"]'
    cells = driver.find_elements(By.CSS_SELECTOR, css)
    return int(cells[0].text.replace(",", "") or 0) if cells else 0


def keep(shot: Path, name: str) -> None:
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        shutil.copyfile(shot, DOCS / name)


def test_readme_screenshots(demo_service: tuple[ServiceProcess, str], tmp_path: Path) -> None:
    running, finished = demo_service
    with (
        chromium(tmp_path / "profile") as browser,
        httpx.Client(base_url=running.url, timeout=10) as http,
    ):
        browser.get(running.url + "/")
        wait(browser).until(ec.text_to_be_present_in_element((By.ID, "live"), "live"))
        stopped = start(http, {"symbol": "ETHUSDT", "type": "api"})
        moex = start(http, {"exchange": "moex", "symbols": ["SBER", "GAZP"], "type": "ws"})
        loading = start(http, {"symbol": "BTCUSDT", "type": "api"})

        wait(browser, 30).until(lambda d: row_status(stopped)(d) == "loading")
        assert http.post("/queues/stop", params={"queue_id": stopped}).status_code == 200
        for queue_id, status in (
            (finished, "finished"),
            (stopped, "stopped"),
            (moex, "loading"),
            (loading, "loading"),
        ):
            wait(browser, 30).until(shows(queue_id, status))
        wait(browser).until(
            lambda d: (
                rate_shown(moex)(d) and rate_shown(loading)(d) and records(d, loading) >= 2_000
            )
        )
        keep(screenshot(browser, "dashboard-demo-1280x800.png"), "dashboard.png")

        browser.find_element(By.CSS_SELECTOR, f'tr[data-queue-id="{loading}"] a').click()
        wait(browser).until(ec.text_to_be_present_in_element((By.ID, "queue-title"), "BTCUSDT"))
        points = "#chart svg polyline"
        wait(browser).until(
            lambda d: (
                len(str(d.find_element(By.CSS_SELECTOR, points).get_attribute("points")).split())
                >= 8
            )
        )
        wait(browser).until(lambda d: d.find_element(By.ID, "log").text not in {"", "(empty)"})
        keep(screenshot(browser, "dashboard-queue-demo-1280x800.png"), "dashboard-queue.png")
