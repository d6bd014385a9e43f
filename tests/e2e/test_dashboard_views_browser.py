"""The dashboard's views in a real headless Chromium against the real service running demo
jobs: rows that can be told apart, freshness colours only while a queue runs, one date/time
form, no focus ring on a heading at load, focus that survives live updates, and first loads
that never leave an empty page until a reload."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select

from app.api.vocabulary import vocabulary
from tests.e2e.browser import chromium, screenshot
from tests.e2e.test_dashboard_browser import TARGETS as QUIET_TARGETS
from tests.e2e.test_dashboard_browser import row_status, text_of, wait
from tests.e2e.test_dashboard_screenshots import demo
from tests.fixtures.service import ServiceProcess, service

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
# The loader ends after ~1 s: its queue finishes; a longer range makes the connector stream
# for minutes with telemetry every 0.2 s (the live updates).
TARGETS = {"loader-producer": demo(50, 10, 100), "arango-connector": demo(100_000, 10, 200)}
MOMENT = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC|—)$")


def serve(tmp_path: Path, targets: dict[str, Any]) -> Any:
    (tmp_path / "targets.json").write_text(json.dumps(targets))
    env = {
        "DATA_DIR": str(tmp_path / "var"),
        "TARGETS_FILE": str(tmp_path / "targets.json"),
        "TELEMETRY_INTERVAL_SECONDS": "0.2",
        "JOB_STOP_GRACE_SECONDS": "2",
    }
    return service(env, tmp_path / "service.log")


@pytest.fixture
def running(tmp_path: Path) -> Iterator[ServiceProcess]:
    with serve(tmp_path, TARGETS) as process:
        yield process


@pytest.fixture
def quiet(tmp_path: Path) -> Iterator[ServiceProcess]:
    """Jobs that send no telemetry: nothing reaches the page but what it fetches."""
    with serve(tmp_path, QUIET_TARGETS) as process:
        yield process


def start(running: ServiceProcess, **body: Any) -> str:
    body = {"symbol": "BTCUSDT", "type": "api", "time_range": "2024-06-01:2024-06-30", **body}
    response = httpx.post(f"{running.url}/queues/start", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["queue_id"])


def cell(driver: WebDriver, queue_id: str, label: str) -> Any:
    return driver.find_element(
        By.CSS_SELECTOR, f'tr[data-queue-id="{queue_id}"] td[data-label="{label}"]'
    )


def test_rows_tell_queues_apart_and_only_running_ones_get_freshness_colours(
    running: ServiceProcess, tmp_path: Path
) -> None:
    ended = start(
        running,
        symbol="ETHUSDT",
        requests=[{"target": "loader-producer", "type": "api_candles_5m"}],
    )
    live = start(running, time_range="2024-01-01:2024-01-03")
    with chromium(tmp_path / "profile") as browser:
        browser.get(running.url + "/")
        wait(browser, 30).until(lambda d: row_status(ended)(d) == "finished")
        wait(browser).until(lambda d: row_status(live)(d) == "loading")
        assert text_of(browser, f'tr[data-queue-id="{live}"] td[data-label="Queue"]') == (
            f"BTCUSDT {live.split('-')[0]}"
        )
        assert cell(browser, live, "Time range").text == "2024-01-01 → 2024-01-03"
        assert cell(browser, live, "Pipeline").text == "api_candles_1m: loader → connector"
        assert cell(browser, ended, "Pipeline").text == "api_candles_5m: loader"
        wait(browser).until(lambda d: "fresh" in cell(d, live, "Updated").get_attribute("class"))
        assert cell(browser, ended, "Updated").get_attribute("class") == "age ended"
        for label in ("Started", "Finished"):
            assert MOMENT.match(cell(browser, ended, label).text), label
        screenshot(browser, "dashboard-rows-1280x800.png")


def test_the_queue_view_keeps_focus_through_live_updates_without_a_ring_on_its_heading(
    running: ServiceProcess, tmp_path: Path
) -> None:
    queue_id = start(running)
    with chromium(tmp_path / "profile") as browser:
        browser.get(f"{running.url}/#/queues/{queue_id}")
        wait(browser).until(ec.text_to_be_present_in_element((By.ID, "queue-title"), "BTCUSDT"))
        heading = browser.find_element(By.ID, "queue-title")
        ring = browser.execute_script("return getComputedStyle(arguments[0]).outlineStyle", heading)
        assert ring == "none", "no focus box on the heading at load"

        button = wait(browser).until(
            ec.element_to_be_clickable((By.XPATH, "//button[text()='Log of arango-connector']"))
        )
        browser.execute_script("arguments[0].focus(); arguments[0].dataset.mark = 'kept'", button)
        records = '#jobs tr[data-job*="arango-connector"] td[data-label="Records"]'
        seen = {text_of(browser, records)}

        def updated_thrice(driver: WebDriver) -> bool:
            seen.add(text_of(driver, records))
            return len(seen) >= 4

        wait(browser).until(updated_thrice)
        focused = browser.switch_to.active_element
        assert focused.get_attribute("data-mark") == "kept", "focus stays on the same button"

        values = browser.execute_script(
            "return Object.fromEntries([...document.querySelectorAll('#queue-facts dt')]"
            ".map((dt) => [dt.textContent, dt.nextElementSibling.textContent]))"
        )
        for name in ("Last loaded", "Started", "Finished"):
            assert MOMENT.match(values[name]), (name, values[name])
        loaded = browser.execute_script(
            "return [...document.querySelectorAll('#jobs td[data-label=\"Last loaded\"]')]"
            ".map((td) => td.textContent)"
        )
        assert loaded and all(MOMENT.match(text) for text in loaded), loaded
        assert values["Time range"] == "2024-06-01 → 2024-06-30"


def block(browser: WebDriver, *patterns: str) -> None:
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": list(patterns)})


def test_a_first_load_that_fails_says_so_and_recovers_by_itself_at_phone_width(
    quiet: ServiceProcess, tmp_path: Path
) -> None:
    """The service's answers blocked at first: the page says it loads and why it cannot yet,
    shows no empty boxes, and fills in once it can, without a reload."""
    running = quiet
    queue_id = start(running)
    with chromium(tmp_path / "phone", width=390, height=844) as phone:
        block(phone, "*/queues?*")
        phone.get(running.url + "/")
        wait(phone).until(ec.text_to_be_present_in_element((By.ID, "list-error"), "Trying again"))
        assert text_of(phone, "#list-count") == "Loading queues…"
        assert "does not answer" in text_of(phone, "#list-error")
        screenshot(phone, "dashboard-first-load-blocked-390.png")
        phone.execute_script("window.sameDocument = true")
        block(phone)
        wait(phone, 30).until(lambda d: text_of(d, "#list-error") == "")
        assert text_of(phone, "#list-count") == "Showing 1 of 1 queues"
        assert phone.execute_script("return window.sameDocument") is True, "no reload"

        block(phone, f"*/queues/{queue_id}")
        phone.get(f"{running.url}/#/queues/{queue_id}")
        phone.refresh()  # a first load of the queue view itself
        wait(phone).until(ec.text_to_be_present_in_element((By.ID, "queue-error"), "Trying again"))
        assert text_of(phone, "#queue-title") == "Loading queue…"
        assert not phone.find_element(By.ID, "queue-facts").is_displayed(), "no empty boxes"
        phone.execute_script("window.sameDocument = true")
        block(phone)
        wait(phone, 30).until(ec.text_to_be_present_in_element((By.ID, "queue-title"), "BTCUSDT"))
        assert phone.find_element(By.ID, "queue-facts").is_displayed()
        assert text_of(phone, "#queue-error") == ""
        assert phone.execute_script("return window.sameDocument") is True, "no reload"
        screenshot(phone, "dashboard-queue-390.png")


def test_the_start_form_offers_what_the_catalog_says(quiet: ServiceProcess, tmp_path: Path) -> None:
    """Targets, their fields and the job types to suggest come from /static/catalog.js."""
    document = vocabulary()
    with chromium(tmp_path / "profile") as browser:
        browser.get(quiet.url + "/#/start")
        wait(browser).until(ec.visibility_of_element_located((By.ID, "f-exchange")))
        browser.find_element(By.XPATH, "//button[text()='Add request']").click()
        row = browser.find_element(By.CSS_SELECTOR, ".request")
        target = Select(row.find_element(By.NAME, "target"))
        assert [o.text for o in target.options] == list(document["targets"])
        for exchange in ("moex", "binance-futures"):
            Select(browser.find_element(By.ID, "f-exchange")).select_by_value(exchange)
            offered = browser.execute_script(
                "return [...arguments[0].querySelectorAll('datalist option')].map(o => o.value)",
                row,
            )
            assert offered == document["targets"]["loader-producer"]["types"][exchange]
        target.select_by_value("gnn-trainer")
        shown = [
            field.get_attribute("name")
            for field in row.find_elements(By.CSS_SELECTOR, ".field input")
            if field.is_displayed()
        ]
        assert shown == [
            "type",
            "graph_collection",
            "model_output",
            "inference_interval",
            "depends_on",
        ]
        filters = Select(browser.find_element(By.ID, "filter-status"))
        assert [o.get_attribute("value") for o in filters.options] == ["", *document["statuses"]]
