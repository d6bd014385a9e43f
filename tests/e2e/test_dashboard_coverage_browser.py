"""The coverage view in a real headless Chromium against the real `queue-manager serve`, its
jobs loading from the local Binance REST server: a day loaded shows complete beside days
missing, a day's details, the fill preview, "Fill missing" with the queues it started, and
the strip turning complete live as their connectors report."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.e2e.browser import screenshot
from tests.fakes.binance_rest import FakeBinanceRest
from tests.fixtures.eventually import eventually_sync
from tests.fixtures.service import ServiceProcess, service

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
WAIT = 20
LOADED = {
    "symbol": "BTCUSDT",
    "time_range": "2024-06-01:2024-06-01",
    "requests": [
        {"target": "loader-producer", "type": "api_candles_1h"},
        {"target": "arango-connector", "type": "api_candles_1h"},
    ],
}
DAYS = ("2024-05-30", "2024-05-31", "2024-06-01", "2024-06-02")


@contextmanager
def binance_rest() -> Iterator[FakeBinanceRest]:
    """The fake on an event loop of its own thread (this test drives a browser, not a loop)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-binance", daemon=True)
    thread.start()
    fake = FakeBinanceRest()
    asyncio.run_coroutine_threadsafe(fake.start(), loop).result(10)
    try:
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[ServiceProcess]:
    with binance_rest() as fake:
        env = {
            "DATA_DIR": str(tmp_path / "var"),
            "BINANCE_REST_URL": fake.url,
            "TELEMETRY_INTERVAL_SECONDS": "0.3",
            "JOB_STOP_GRACE_SECONDS": "2",
        }
        with service(env, tmp_path / "service.log") as process:
            yield process


def load_one_day(url: str) -> None:
    with httpx.Client(base_url=url, timeout=10) as http:
        queue_id = http.post("/queues/start", json=LOADED).json()["data"]["queue_id"]
        eventually_sync(
            lambda: http.get(f"/queues/{queue_id}").json()["data"]["status"],
            lambda status: status in ("finished", "error"),
            within=60,
            what="the first day loaded",
        )
        assert http.get(f"/queues/{queue_id}").json()["data"]["status"] == "finished"


def day_states(driver: WebDriver) -> list[str]:
    """Read in one script: a live reload may replace the strip between two element reads."""
    classes = driver.execute_script(
        "return [...document.querySelectorAll('#coverage-series .strip .day')]"
        ".map((cell) => cell.className)"
    )
    return [str(name).split()[1] for name in classes]


def type_into(driver: WebDriver, element_id: str, text: str) -> None:
    element = driver.find_element(By.ID, element_id)
    element.clear()
    element.send_keys(text)


def set_date(driver: WebDriver, element_id: str, value: str) -> None:
    driver.execute_script(
        "document.getElementById(arguments[0]).value = arguments[1]", element_id, value
    )


def test_the_coverage_view_shows_days_and_fills_the_missing_ones(
    running: ServiceProcess, browser: WebDriver
) -> None:
    load_one_day(running.url)
    browser.get(running.url + "/#/coverage")
    wait = WebDriverWait(browser, WAIT)
    wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#coverage-series .strip")))
    Select(browser.find_element(By.ID, "c-exchange")).select_by_value("binance")
    type_into(browser, "c-symbol", "btcusdt")
    Select(browser.find_element(By.ID, "c-type")).select_by_value("candles_1h")
    set_date(browser, "c-from", DAYS[0])
    set_date(browser, "c-to", DAYS[-1])
    browser.find_element(By.CSS_SELECTOR, "#coverage-filters button[type=submit]").click()
    wait.until(lambda d: len(day_states(d)) == 4)
    assert day_states(browser) == [
        "state-missing",
        "state-missing",
        "state-complete",
        "state-missing",
    ]
    loaded = f'.strip .day[data-day="{DAYS[2]}"]'
    label = browser.find_element(By.CSS_SELECTOR, loaded).get_attribute("aria-label")
    assert label == "2024-06-01: complete; 24 records"
    browser.find_element(By.CSS_SELECTOR, loaded).click()
    details = wait.until(ec.visibility_of_element_located((By.ID, "coverage-day")))
    assert "BTCUSDT candles_1h · 2024-06-01" in details.text and "24" in details.text
    screenshot(browser, "dashboard-coverage-1280x800.png")

    browser.find_element(By.ID, "fill-preview").click()
    result = wait.until(ec.visibility_of_element_located((By.ID, "fill-result")))
    assert "would start 2 queues" in result.text.lower()
    assert "2024-05-30 → 2024-05-31 (2 days): would start" in result.text
    assert "2024-06-02 → 2024-06-02 (1 days): would start" in result.text
    assert day_states(browser).count("state-missing") == 3, "a preview starts nothing"

    browser.find_element(By.ID, "fill-missing").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "fill-result"), "started 2 queues"))
    links = browser.find_elements(By.CSS_SELECTOR, "#fill-result a[href^='#/queues/']")
    assert len(links) == 2
    WebDriverWait(browser, 60).until(lambda d: day_states(d) == ["state-complete"] * 4)
    screenshot(browser, "dashboard-coverage-filled-1280x800.png")
    links = browser.find_elements(By.CSS_SELECTOR, "#fill-result a[href^='#/queues/']")
    links[0].click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "queue-facts"), "2024-05-30"))
