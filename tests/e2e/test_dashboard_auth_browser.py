"""The dashboard against a service with API_TOKENS, in a real headless Chromium: reads are
open, the first 401 asks for a token, a wrong one is refused clearly, the right one retries
the start, and the live WebSocket opens with ?token=."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec

from tests.e2e.browser import chromium, screenshot
from tests.e2e.test_dashboard_browser import (
    TARGETS,
    fill_start_form,
    row_status,
    submit,
    text_of,
    wait,
)
from tests.fixtures.service import ServiceProcess, service

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]
TOKEN = "s3cret-dashboard-token"


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[ServiceProcess]:
    (tmp_path / "targets.json").write_text(json.dumps(TARGETS))
    env = {
        "DATA_DIR": str(tmp_path / "var"),
        "TARGETS_FILE": str(tmp_path / "targets.json"),
        "API_TOKENS": f"other-token,{TOKEN}",
        "JOB_STOP_GRACE_SECONDS": "2",
    }
    with service(env, tmp_path / "service.log") as process:
        yield process


def focused_id(driver: WebDriver) -> str:
    return str(driver.switch_to.active_element.get_attribute("id"))


def token_field(driver: WebDriver) -> WebElement:
    """The token form is shown and its field has the focus."""
    field: WebElement = wait(driver).until(ec.visibility_of_element_located((By.ID, "token-input")))
    wait(driver).until(lambda d: focused_id(d) == "token-input")
    return field


def test_a_token_is_asked_for_refused_when_wrong_and_used_when_right(
    guarded: ServiceProcess, browser: WebDriver
) -> None:
    browser.get(guarded.url + "/")
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "list-count"), "No queues"))
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "live"), "need a token"))
    assert browser.find_element(By.ID, "token-button").is_displayed()
    assert not browser.find_element(By.ID, "token-view").is_displayed(), "reading needs no token"

    fill_start_form(browser, "2024-01-01", "2024-01-03")
    submit(browser)
    field = token_field(browser)
    assert text_of(browser, "#token-reason") == "Starting a queue needs an API token."
    assert not browser.find_element(By.ID, "token-error").is_displayed()
    ActionChains(browser).send_keys(Keys.TAB).perform()  # keyboard: field -> Use token
    assert browser.switch_to.active_element.text == "Use token"
    ring = browser.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
    assert ring != "none", "the focused button must show a focus ring"
    ActionChains(browser).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
    assert focused_id(browser) == "token-input"

    field.send_keys("wrong-token", Keys.ENTER)
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "token-error"), "refused"))
    field = token_field(browser)
    assert "That token was refused" in text_of(browser, "#token-error")
    assert browser.execute_script("return sessionStorage.length") == 0, "a bad token is dropped"
    screenshot(browser, "dashboard-token-refused-1280x800.png")

    field.send_keys(TOKEN, Keys.ENTER)
    link = wait(browser).until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#start-result a")))
    queue_id = str(link.get_attribute("href")).rsplit("/", 1)[-1]
    assert not browser.find_element(By.ID, "token-view").is_displayed()
    assert browser.switch_to.active_element.text == "Start queue", "focus goes back to the form"
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "live"), "live"))
    assert text_of(browser, "#live") == "live", "the WebSocket opened with ?token="
    assert not browser.find_element(By.ID, "token-button").is_displayed()

    browser.find_element(By.LINK_TEXT, "Queues").click()
    assert wait(browser).until(row_status(queue_id)) in {"pending", "starting"}


def test_the_token_form_fits_a_phone_and_cancel_goes_back(
    guarded: ServiceProcess, tmp_path: Path
) -> None:
    with chromium(tmp_path / "phone", width=390, height=844) as phone:
        phone.get(guarded.url + "/")
        button = wait(phone).until(ec.visibility_of_element_located((By.ID, "token-button")))
        assert phone.execute_script("return document.documentElement.scrollWidth") <= 390
        button.click()
        field = token_field(phone)
        assert text_of(phone, "#token-reason") == "Live updates need an API token."
        assert field.rect["x"] + field.rect["width"] <= 390
        width = phone.execute_script("return document.documentElement.scrollWidth")
        assert width <= 390, f"the token form scrolls sideways at phone width ({width} px)"
        screenshot(phone, "dashboard-token-390.png")
        phone.find_element(By.ID, "token-cancel").click()
        wait(phone).until(ec.visibility_of_element_located((By.ID, "list-view")))
        assert focused_id(phone) == "token-button", "Cancel gives the focus back"
        phone.find_element(By.ID, "token-button").send_keys(Keys.ENTER)
        field = token_field(phone)
        field.send_keys(TOKEN, Keys.ENTER)
        wait(phone).until(ec.text_to_be_present_in_element((By.ID, "live"), "live"))
        assert not phone.find_element(By.ID, "token-view").is_displayed()
