"""The dashboard in a real headless Chromium against the real `queue-manager serve` process:
start a queue through the form, see it live over the WebSocket, open it, stop it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.e2e.browser import chromium, screenshot
from tests.fixtures.app import scripted
from tests.fixtures.service import ServiceProcess, service

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
# Scripted jobs send no telemetry, so a queue stays `starting` until its jobs end: the
# visualizer ends after 2 s (a queue of it finishes by itself, live), the data jobs run on.
TARGETS = {
    "loader-producer": scripted("sleep", "30"),
    "arango-connector": scripted("sleep", "30"),
    "visualizer": scripted("sleep", "2"),
}
WAIT = 15


@pytest.fixture
def running(tmp_path: Path) -> Iterator[ServiceProcess]:
    (tmp_path / "targets.json").write_text(json.dumps(TARGETS))
    env = {
        "DATA_DIR": str(tmp_path / "var"),
        "TARGETS_FILE": str(tmp_path / "targets.json"),
        "JOB_STOP_GRACE_SECONDS": "2",
    }
    with service(env, tmp_path / "service.log") as process:
        yield process


def wait(driver: WebDriver, seconds: float = WAIT) -> WebDriverWait[WebDriver]:
    return WebDriverWait(driver, seconds)


def text_of(driver: WebDriver, css: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def row_status(queue_id: str) -> Any:
    css = f'tr[data-queue-id="{queue_id}"] .badge'
    return lambda d: (
        d.find_elements(By.CSS_SELECTOR, css) and d.find_element(By.CSS_SELECTOR, css).text
    )


def set_date(driver: WebDriver, css: str, day: str) -> None:
    """Date inputs take locale-shaped keystrokes; the value is set as a picker would."""
    element = driver.find_element(By.CSS_SELECTOR, css)
    driver.execute_script(
        "arguments[0].value = arguments[1];"
        "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
        element,
        day,
    )


def fill_start_form(driver: WebDriver, start: str, end: str) -> None:
    driver.find_element(By.LINK_TEXT, "Start a queue").click()
    symbol = wait(driver).until(ec.visibility_of_element_located((By.ID, "f-symbol")))
    symbol.clear()
    symbol.send_keys("btcusdt")
    Select(driver.find_element(By.ID, "f-type")).select_by_value("api")
    set_date(driver, "#f-start", start)
    set_date(driver, "#f-end", end)


def list_fetches(driver: WebDriver) -> int:
    script = (
        "return performance.getEntriesByType('resource')"
        ".filter(e => new URL(e.name).pathname === '/queues').length"
    )
    return int(driver.execute_script(script))


def submit(driver: WebDriver) -> None:
    driver.find_element(By.CSS_SELECTOR, "#start-form button[type=submit]").click()


def started_queue_id(driver: WebDriver) -> str:
    link = wait(driver).until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#start-result a")))
    return str(link.get_attribute("href")).rsplit("/", 1)[-1]


def add_visualizer_request(driver: WebDriver) -> None:
    driver.find_element(By.XPATH, "//button[text()='Add request']").click()
    row = driver.find_element(By.CSS_SELECTOR, ".request")
    Select(row.find_element(By.NAME, "target")).select_by_value("visualizer")
    row.find_element(By.NAME, "type").send_keys("graph_metrics_stream")
    source = row.find_element(By.NAME, "source")
    assert source.is_displayed() and not row.find_element(By.NAME, "interval").is_displayed()
    source.send_keys("btc_graph_metrics")


def test_start_follow_open_and_stop_queues(running: ServiceProcess, browser: WebDriver) -> None:
    browser.get(running.url + "/")
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "live"), "live"))
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "list-count"), "No queues"))
    browser.execute_script("window.sameDocument = true")

    fill_start_form(browser, "2024-01-03", "2024-01-01")
    submit(browser)
    problem = wait(browser).until(ec.visibility_of_element_located((By.ID, "f-range-error")))
    assert "after end" in problem.text
    assert browser.find_element(By.ID, "f-start").get_attribute("aria-invalid") == "true"
    assert "time_range" in text_of(browser, "#start-summary")

    set_date(browser, "#f-start", "2024-01-01")
    set_date(browser, "#f-end", "2024-01-03")
    add_visualizer_request(browser)
    submit(browser)
    quick = started_queue_id(browser)
    assert not browser.find_element(By.ID, "f-range-error").is_displayed()
    browser.find_element(By.LINK_TEXT, "Queues").click()
    assert wait(browser).until(row_status(quick)) in {"pending", "starting"}
    wait(browser).until(lambda d: row_status(quick)(d) == "finished")

    browser.find_element(By.LINK_TEXT, "Start a queue").click()
    browser.find_element(By.CSS_SELECTOR, ".request .remove").click()
    submit(browser)
    queue_id = wait(browser).until(lambda d: (q := started_queue_id(d)) != quick and q)
    browser.find_element(By.LINK_TEXT, "Queues").click()
    assert wait(browser).until(row_status(queue_id)) in {"pending", "starting"}
    assert "BTCUSDT" in text_of(browser, f'tr[data-queue-id="{queue_id}"]')
    assert list_fetches(browser) == 1, "rows must come over the WebSocket, not a re-fetch"
    screenshot(browser, "dashboard-queues-1280x800.png")

    browser.find_element(By.CSS_SELECTOR, f'tr[data-queue-id="{queue_id}"] a').click()
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "queue-title"), "BTCUSDT"))
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "log"), "scripted job sleep"))
    jobs = browser.find_elements(By.CSS_SELECTOR, "#jobs tbody tr")
    assert len(jobs) == 2
    assert browser.find_elements(By.CSS_SELECTOR, "#chart svg polyline")

    browser.find_element(By.ID, "stop-button").click()
    dialog = wait(browser).until(ec.visibility_of_element_located((By.ID, "confirm-stop")))
    dialog.find_element(By.ID, "confirm-stop-yes").click()
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "queue-title"), "stopped"))
    assert not browser.find_element(By.ID, "stop-button").is_enabled()
    screenshot(browser, "dashboard-queue-1280x800.png")

    browser.find_element(By.PARTIAL_LINK_TEXT, "All queues").click()
    wait(browser).until(lambda d: row_status(queue_id)(d) == "stopped")
    assert list_fetches(browser) == 1
    assert browser.execute_script("return window.sameDocument") is True


def test_phone_width_shows_cards(running: ServiceProcess, tmp_path: Path) -> None:
    body = {"symbol": "ETHUSDT", "type": "api", "time_range": "2024-01-01:2024-01-02"}
    queue_id = httpx.post(f"{running.url}/queues/start", json=body, timeout=10).json()["data"][
        "queue_id"
    ]
    with chromium(tmp_path / "phone", width=390, height=844) as phone:
        phone.get(running.url + "/")
        card = wait(phone).until(
            ec.visibility_of_element_located((By.CSS_SELECTOR, f'tr[data-queue-id="{queue_id}"]'))
        )
        display = phone.execute_script("return getComputedStyle(arguments[0]).display", card)
        assert display == "block", "rows become cards at phone width"
        assert phone.find_element(By.CSS_SELECTOR, "#queues thead").size["height"] <= 1
        width = phone.execute_script("return document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways at phone width ({width} px)"
        screenshot(phone, "dashboard-queues-390.png")
        phone.find_element(By.LINK_TEXT, "Start a queue").click()
        symbol = wait(phone).until(ec.visibility_of_element_located((By.ID, "f-symbol")))
        assert symbol.size["width"] <= 390
        assert phone.execute_script("return document.documentElement.scrollWidth") <= 390


def test_the_page_says_reconnecting_when_the_service_goes_away(
    running: ServiceProcess, browser: WebDriver
) -> None:
    browser.get(running.url + "/")
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "live"), "live"))
    running.kill()
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "live"), "reconnecting"))
    assert "reconnecting" in str(browser.find_element(By.ID, "live").get_attribute("class"))


def test_keyboard_reaches_the_form_with_a_visible_focus(
    running: ServiceProcess, browser: WebDriver
) -> None:
    browser.get(running.url + "/#/start")
    wait(browser).until(ec.visibility_of_element_located((By.ID, "f-symbol")))
    for _ in range(12):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        if browser.switch_to.active_element.get_attribute("id") == "f-symbol":
            break
    focused = browser.switch_to.active_element
    assert focused.get_attribute("id") == "f-symbol", "Tab must reach the symbol field"
    outline = browser.execute_script("return getComputedStyle(arguments[0]).outlineStyle", focused)
    assert outline != "none", "the focused control must show a focus ring"
    label = browser.find_element(By.CSS_SELECTOR, "label[for=f-symbol]")
    assert label.text == "Symbol(s)"
