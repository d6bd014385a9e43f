"""The schedules page in a real headless Chromium against the real `queue-manager serve`:
create a schedule from the start form (a bad cron shown at its field first), see it listed
with its next run, run it now and follow the run to its queue, disable it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.e2e.browser import screenshot
from tests.fixtures.app import scripted
from tests.fixtures.service import ServiceProcess, service

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
TARGETS = {"loader-producer": scripted("sleep", "30"), "arango-connector": scripted("sleep", "30")}
WAIT = 15
ROW = 'tr[data-schedule-id="{}"]'


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


def wait(driver: WebDriver) -> WebDriverWait[WebDriver]:
    return WebDriverWait(driver, WAIT)


def type_into(driver: WebDriver, element_id: str, text: str) -> None:
    element = driver.find_element(By.ID, element_id)
    element.clear()
    element.send_keys(text)


def test_create_list_run_and_disable_a_schedule(
    running: ServiceProcess, browser: WebDriver
) -> None:
    browser.get(running.url + "/#/schedules")
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "schedules"), "No schedules"))
    browser.find_element(By.CSS_SELECTOR, "#schedules a[href='#/schedule']").click()
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "start-title"), "schedule"))
    type_into(browser, "f-name", "nightly-e2e")
    type_into(browser, "f-cron", "61 0 * * *")
    type_into(browser, "f-timezone", "Europe/Berlin")
    Select(browser.find_element(By.ID, "f-relative")).select_by_value("yesterday")
    type_into(browser, "f-symbol", "btcusdt")
    Select(browser.find_element(By.ID, "f-type")).select_by_value("api")
    submit = browser.find_element(By.CSS_SELECTOR, "#start-form button[type=submit]")
    assert submit.text == "Create schedule"
    submit.click()
    problem = wait(browser).until(ec.visibility_of_element_located((By.ID, "f-cron-error")))
    assert "minute" in problem.text.lower()
    assert browser.find_element(By.ID, "f-cron").get_attribute("aria-invalid") == "true"
    assert "schedule was not created" in browser.find_element(By.ID, "start-summary").text

    type_into(browser, "f-cron", "0 0 1 1 *")
    submit.click()
    created = wait(browser).until(
        ec.element_to_be_clickable((By.CSS_SELECTOR, "#start-result a[href='#/schedules']"))
    )
    assert "next run" in browser.find_element(By.ID, "start-result").text
    created.click()

    row_css = "#schedules tbody tr[data-schedule-id]"
    row = wait(browser).until(ec.visibility_of_element_located((By.CSS_SELECTOR, row_css)))
    schedule_id = str(row.get_attribute("data-schedule-id"))
    assert "nightly-e2e" in row.text and "Europe/Berlin" in row.text
    assert "January" in row.text, "the cron in words"
    assert "UTC" in row.find_element(By.CSS_SELECTOR, ".next-run").text
    assert "none yet" in row.text

    row.find_element(By.CSS_SELECTOR, ".run-now").click()
    link = wait(browser).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, f"{ROW.format(schedule_id)} .runs a"))
    )
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "schedules-note"), "started"))
    screenshot(browser, "dashboard-schedules-1280x800.png")

    toggle = browser.find_element(By.CSS_SELECTOR, f"{ROW.format(schedule_id)} .toggle")
    assert toggle.get_attribute("aria-pressed") == "true"
    toggle.click()
    wait(browser).until(
        ec.text_to_be_present_in_element(
            (By.CSS_SELECTOR, f"{ROW.format(schedule_id)} .next-run"), "disabled"
        )
    )
    toggle = browser.find_element(By.CSS_SELECTOR, f"{ROW.format(schedule_id)} .toggle")
    assert toggle.get_attribute("aria-pressed") == "false"

    link = browser.find_element(By.CSS_SELECTOR, f"{ROW.format(schedule_id)} .runs a")
    link.click()
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "queue-facts"), "nightly-e2e"))
    browser.find_element(By.LINK_TEXT, "Queues").click()
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "queues"), "⏰ nightly-e2e"))
