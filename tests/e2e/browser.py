"""A real headless Chromium (Debian `chromium` + `chromium-driver`) driven by Selenium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from tests.needs import unavailable

ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--lang=en-US",
)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def chromium_paths() -> tuple[str, str]:
    """The browser and its driver; both must be there (`make browser` installs them)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    missing = [
        name for name, path in (("chromium", browser), ("chromium-driver", driver)) if not path
    ]
    if not browser or not driver:
        unavailable(f"needs the Debian packages chromium and chromium-driver; missing: {missing}")
    return browser, driver


@contextmanager
def chromium(profile: Path, width: int = 1280, height: int = 800) -> Iterator[WebDriver]:
    """A fresh browser profile; the explicit driver path keeps Selenium Manager offline."""
    browser, driver_path = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in (*ARGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(20)
    driver.set_script_timeout(20)
    _fit_viewport(driver, width, height)
    try:
        yield driver
    finally:
        driver.quit()


def _fit_viewport(driver: WebDriver, width: int, height: int) -> None:
    """--window-size includes the browser's frame and has a minimum: set the page's viewport
    exactly (a phone width is also emulated as a mobile screen)."""
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)


def screenshot(driver: WebDriver, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    return path
