"""The pipeline graph of the queue view in a real headless Chromium against the real service:
one box per job in columns by dependency depth, arrows from each upstream's box to its
dependent's, colours by status, the waiting reason, `attempt 2 of 4` with the attempts one
click away, readable at phone width (it scrolls sideways, boxes keep their size and never
overlap), and boxes updated in place by the live feed.

The recorded queue is written into the service's store before it starts (an ended pipeline
as the service records one: seed 002's historical pipeline where a connector failed), for
exact geometry; the others run for real on test targets (TARGETS_FILE): a loader failing
once then retried, a step waiting for it, a step skipped after its upstream failed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select

from app.models.attempts import Attempt
from app.models.queues import JobState, QueueState, utcnow
from app.models.status import Status
from app.store.sqlite import SqliteQueueStore
from tests.e2e.browser import chromium, screenshot
from tests.e2e.test_dashboard_browser import fill_start_form, started_queue_id, submit, wait
from tests.e2e.test_dashboard_screenshots import keep
from tests.fixtures.app import scripted
from tests.fixtures.service import ServiceProcess, service

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]
QUEUE_ID = "5e1f0d2c-7a6b-4c3d-9e8f-0a1b2c3d4e5f"
WAITING = "waiting for graph-builder · gnn_graph to finish"
SKIPPED = "arango-connector · api_candles_5m failed"
FIRST_FAILURE = "exit code 1: ConnectError: connection refused"


def job(
    name: str, target: str, job_type: str, status: Status, *upstreams: str, **more: Any
) -> JobState:
    return JobState(
        name=name, target=target, type=job_type, status=status, depends_on=list(upstreams), **more
    )


def retried_loader() -> JobState:
    start = utcnow() - timedelta(minutes=10)
    attempts = [
        Attempt(
            attempt=1,
            status=Status.ERROR,
            started_at=start,
            finished_at=start + timedelta(minutes=1),
            error_message=FIRST_FAILURE,
        ),
        Attempt(
            attempt=2,
            status=Status.FINISHED,
            started_at=start + timedelta(minutes=2),
            finished_at=start + timedelta(minutes=6),
        ),
    ]
    request = {"target": "loader-producer", "type": "api_trades", "retry": {"limit": 3}}
    return job(
        "lt",
        "loader-producer",
        "api_trades",
        Status.FINISHED,
        attempt=2,
        attempts=attempts,
        request=request,
    )


def recorded_pipeline() -> QueueState:
    """Seed 002's historical pipeline after the candles connector failed."""
    jobs = [
        retried_loader(),
        job("lc", "loader-producer", "api_candles_5m", Status.FINISHED),
        job("ct", "arango-connector", "api_trades", Status.FINISHED, "lt"),
        job(
            "cc",
            "arango-connector",
            "api_candles_5m",
            Status.ERROR,
            "lc",
            error_message="exit code 4",
        ),
        job("gb", "graph-builder", "gnn_graph", Status.SKIPPED, "ct", "cc", error_message=SKIPPED),
        job("gt", "gnn-trainer", "gnn_train", Status.PENDING, "gb", waiting_for=WAITING),
    ]
    return QueueState(
        id=QUEUE_ID,
        symbol="BTCUSDT",
        type="api",
        loader_type="job",
        time_range="2024-06-01:2024-06-30",
        status=Status.ERROR,
        started_at=utcnow() - timedelta(minutes=10),
        finished_at=utcnow(),
        jobs=jobs,
    )


async def record(path: Path, queue: QueueState) -> None:
    store = SqliteQueueStore(path)
    await store.open()
    try:
        await store.create(queue)
    finally:
        await store.close()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[ServiceProcess]:
    (tmp_path / "var").mkdir()
    asyncio.run(record(tmp_path / "var" / "queue-manager.db", recorded_pipeline()))
    targets = {
        "loader-producer": scripted("sleep", "3"),
        "arango-connector": scripted("sleep", "3"),
    }
    (tmp_path / "targets.json").write_text(json.dumps(targets))
    env = {"DATA_DIR": str(tmp_path / "var"), "TARGETS_FILE": str(tmp_path / "targets.json")}
    with service(env, tmp_path / "service.log") as process:
        yield process


BOXES = """return [...document.querySelectorAll('#graph .step')].map((b) => {
  const r = b.getBoundingClientRect();
  return {job: b.dataset.job, column: Number(b.style.gridColumnStart), row:
    Number(b.style.gridRowStart), left: r.left, right: r.right, top: r.top, bottom: r.bottom,
    status: b.dataset.status, border: getComputedStyle(b).borderTopStyle,
    text: b.innerText};
});"""
ARROWS = """return [...document.querySelectorAll('#graph path.graph-edge')].map((p) => {
  const svg = p.ownerSVGElement.getBoundingClientRect();
  const a = p.getPointAtLength(0), b = p.getPointAtLength(p.getTotalLength());
  return {from: p.dataset.from, to: p.dataset.to, x1: a.x + svg.left, y1: a.y + svg.top,
    x2: b.x + svg.left, y2: b.y + svg.top, marker: p.getAttribute('marker-end')};
});"""


def boxes(driver: WebDriver) -> dict[str, dict[str, Any]]:
    return {box["job"]: box for box in driver.execute_script(BOXES)}


def arrows(driver: WebDriver) -> list[dict[str, Any]]:
    return list(driver.execute_script(ARROWS))


def open_queue(driver: WebDriver, url: str, queue_id: str, count: int) -> None:
    driver.get(f"{url}/#/queues/{queue_id}")
    wait(driver).until(lambda d: len(boxes(d)) == count)
    driver.execute_script("document.querySelector('#graph-title').scrollIntoView()")


def test_the_pipeline_graph_shows_steps_arrows_waiting_and_attempts(
    running: ServiceProcess, tmp_path: Path
) -> None:
    with chromium(tmp_path / "profile") as driver:
        open_queue(driver, running.url, QUEUE_ID, 6)
        shown = boxes(driver)
        assert {name: (b["column"], b["row"]) for name, b in shown.items()} == {
            "lt": (1, 1),
            "lc": (1, 2),
            "ct": (2, 1),
            "cc": (2, 2),
            "gb": (3, 1),
            "gt": (4, 1),
        }
        assert shown["gt"]["text"].startswith("gnn · gnn_train\npending")
        assert WAITING in shown["gt"]["text"]
        assert SKIPPED in shown["gb"]["text"] and shown["gb"]["border"] == "dashed"
        assert "after connector · api_trades, connector · api_candles_5m" in shown["gb"]["text"]
        assert "exit code 4" in shown["cc"]["text"]
        drawn = arrows(driver)
        assert sorted((a["from"], a["to"]) for a in drawn) == [
            ("cc", "gb"),
            ("ct", "gb"),
            ("gb", "gt"),
            ("lc", "cc"),
            ("lt", "ct"),
        ]
        for arrow in drawn:  # from the right edge of one box to the left edge of the next
            start, end = shown[arrow["from"]], shown[arrow["to"]]
            assert (
                abs(arrow["x1"] - start["right"]) < 2
                and start["top"] < arrow["y1"] < start["bottom"]
            )
            assert 0 < end["left"] - arrow["x2"] < 6 and end["top"] < arrow["y2"] < end["bottom"]
            assert arrow["marker"] == "url(#graph-arrowhead)"

        summary = driver.find_element(By.CSS_SELECTOR, '#graph [data-job="lt"] summary')
        assert summary.text == "attempt 2 of 4"
        first = '#graph [data-job="lt"] .attempts li[data-attempt="1"]'
        assert not driver.find_element(By.CSS_SELECTOR, first).is_displayed()
        summary.click()
        attempt = driver.find_element(By.CSS_SELECTOR, first)
        assert attempt.is_displayed() and FIRST_FAILURE in attempt.text
        assert attempt.text.startswith("#1 error") and attempt.text.count(" UTC") == 2
        reopened = boxes(driver)  # the taller box moved the arrows with it
        lt_arrow = next(a for a in arrows(driver) if a["from"] == "lt")
        assert reopened["lt"]["top"] < lt_arrow["y1"] < reopened["lt"]["bottom"]
        shot = tmp_path / "pipeline-graph-1280x800.png"
        driver.save_screenshot(str(shot))
        screenshot(driver, "dashboard-pipeline-1280x800.png")
        assert shot.stat().st_size > 10_000


def test_at_phone_width_the_graph_scrolls_sideways_and_boxes_never_overlap(
    running: ServiceProcess, tmp_path: Path
) -> None:
    with chromium(tmp_path / "profile", 390, 844) as driver:
        open_queue(driver, running.url, QUEUE_ID, 6)
        width, visible = driver.execute_script(
            "const g = document.querySelector('#graph'); return [g.scrollWidth, g.clientWidth]"
        )
        assert width > visible, "a wide pipeline scrolls inside its frame"
        page = driver.execute_script("return document.documentElement.scrollWidth")
        assert page <= 390, "the page itself does not scroll sideways"
        shown = list(boxes(driver).values())
        assert all(b["right"] - b["left"] >= 190 for b in shown), "boxes keep a readable width"
        for i, a in enumerate(shown):
            for b in shown[i + 1 :]:
                apart = a["right"] <= b["left"] or b["right"] <= a["left"]
                assert apart or a["bottom"] <= b["top"] or b["bottom"] <= a["top"], (a, b)
        driver.save_screenshot(str(tmp_path / "pipeline-graph-390x844.png"))
        screenshot(driver, "dashboard-pipeline-390x844.png")


def test_boxes_follow_the_live_feed_in_place(running: ServiceProcess, tmp_path: Path) -> None:
    body = {
        "symbol": "ETHUSDT",
        "type": "api",
        "time_range": "2024-06-01:2024-06-01",
        "requests": [{"target": "loader-producer", "type": "api_trades"}],
    }
    with chromium(tmp_path / "profile") as driver:
        driver.get(f"{running.url}/")
        started = httpx.post(f"{running.url}/queues/start", json=body, timeout=10)
        assert started.status_code == 200, started.text
        queue_id = started.json()["data"]["queue_id"]
        open_queue(driver, running.url, queue_id, 1)
        driver.execute_script("document.querySelector('#graph .step').marked = true")
        assert next(iter(boxes(driver).values()))["status"] in {"starting", "loading"}
        wait(driver, 20).until(lambda d: next(iter(boxes(d).values()))["status"] == "finished")
        assert driver.execute_script("return document.querySelector('#graph .step').marked")


def add_request(driver: WebDriver, target: str, job_type: str) -> Any:
    driver.find_element(By.XPATH, "//button[text()='Add request']").click()
    row = driver.find_elements(By.CSS_SELECTOR, ".request")[-1]
    Select(row.find_element(By.NAME, "target")).select_by_value(target)
    row.find_element(By.NAME, "type").send_keys(job_type)
    return row


def test_the_start_form_sends_depends_on_and_retry_and_places_their_problems(
    running: ServiceProcess, tmp_path: Path
) -> None:
    with chromium(tmp_path / "profile", 1280, 1200) as driver:
        driver.get(f"{running.url}/")
        fill_start_form(driver, "2024-06-01", "2024-06-01")
        add_request(driver, "loader-producer", "api_trades")
        row = add_request(driver, "arango-connector", "api_trades")
        assert row.find_element(By.TAG_NAME, "legend").text == "Request 2 · index 1"
        row.find_element(By.NAME, "depends_on").send_keys("0")
        limit = row.find_element(By.NAME, "retry-limit")
        assert not limit.is_displayed(), "retries are folded away until asked for"
        row.find_element(By.CSS_SELECTOR, ".retry-fields summary").click()
        limit.send_keys("500")
        row.find_element(By.NAME, "retry-backoff_seconds").send_keys("5")
        submit(driver)
        problem = wait(driver).until(
            ec.visibility_of_element_located((By.ID, "r1-retry-limit-error"))
        )
        assert "100" in problem.text and limit.get_attribute("aria-invalid") == "true"
        assert "requests[1].retry.limit" in driver.find_element(By.ID, "start-summary").text

        limit.clear()
        limit.send_keys("2")
        after = row.find_element(By.NAME, "depends_on")
        after.clear()
        after.send_keys("1")  # itself
        submit(driver)
        problem = wait(driver).until(
            ec.visibility_of_element_located((By.ID, "r1-depends_on-error"))
        )
        assert "1 is not another request" in problem.text
        assert after.get_attribute("aria-invalid") == "true"

        after.clear()
        after.send_keys("0")
        submit(driver)
        queue_id = started_queue_id(driver)
    stored = httpx.get(f"{running.url}/queues/{queue_id}", timeout=10).json()["data"]
    connector = stored["jobs"][1]["request"]
    assert connector["depends_on"] == [0]
    assert connector["retry"]["limit"] == 2 and connector["retry"]["backoff_seconds"] == 5


def test_the_queue_list_counts_waiting_and_skipped_jobs(
    running: ServiceProcess, tmp_path: Path
) -> None:
    with chromium(tmp_path / "profile") as driver:
        driver.get(f"{running.url}/")
        css = f'tr[data-queue-id="{QUEUE_ID}"] td[data-label="Pipeline"]'
        cell = wait(driver).until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))
        assert cell.text.endswith("1 waiting · 1 skipped")
        assert f"gnn-trainer · gnn_train: {WAITING}" in str(cell.get_attribute("title"))
        statuses = Select(driver.find_element(By.ID, "filter-status"))
        assert "skipped" in [option.text for option in statuses.options]
        statuses.select_by_visible_text("skipped")
        wait(driver).until(lambda d: "No queues match" in d.find_element(By.ID, "list-count").text)


FAIL_ONCE = (
    "import pathlib, sys, time\n"
    "mark = pathlib.Path(sys.argv[1])\n"
    "if not mark.exists():\n"
    "    mark.touch()\n"
    "    sys.exit('first attempt fails on purpose')\n"
    "time.sleep(2)\n"
)

FAIL_ONCE_THEN_WAIT = (
    "import pathlib, sys, time\n"
    "mark, gate = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])\n"
    "if not mark.exists():\n"
    "    mark.touch()\n"
    "    sys.exit('first attempt fails on purpose')\n"
    "deadline = time.monotonic() + 120\n"
    "while not gate.exists() and time.monotonic() < deadline:\n"
    "    time.sleep(0.05)\n"
)
"""The second attempt runs until the test opens the gate: what the graph shows while the
loader retries and runs is there for as long as the test looks."""


@pytest.fixture
def retrying(tmp_path: Path) -> Iterator[ServiceProcess]:
    """A loader whose first attempt fails and second one finishes."""
    command = ["python", "-c", FAIL_ONCE, str(tmp_path / "failed-once")]
    (tmp_path / "targets.json").write_text(json.dumps({"loader-producer": {"command": command}}))
    env = {"DATA_DIR": str(tmp_path / "var"), "TARGETS_FILE": str(tmp_path / "targets.json")}
    with service(env, tmp_path / "service.log") as process:
        yield process


def test_a_retried_job_shows_its_wait_then_its_attempts_live(
    retrying: ServiceProcess, tmp_path: Path
) -> None:
    retry = {"limit": 3, "backoff_seconds": 4, "factor": 1, "max_backoff_seconds": 4}
    loader = {"target": "loader-producer", "type": "api_trades", "retry": retry}
    body = {"symbol": "BTCUSDT", "time_range": "2024-06-01:2024-06-01", "requests": [loader]}
    with chromium(tmp_path / "profile") as driver:
        driver.get(f"{retrying.url}/")
        started = httpx.post(f"{retrying.url}/queues/start", json=body, timeout=10)
        assert started.status_code == 200, started.text
        open_queue(driver, retrying.url, started.json()["data"]["queue_id"], 1)
        box = '#graph .step[data-job$="api-trades"]'
        waiting = wait(driver, 20).until(lambda d: waiting_text(d, box))
        assert waiting.startswith("retrying in 4 s (attempt 2 of 4): ")
        assert "first attempt fails on purpose" in waiting
        assert text(driver, f"{box} summary") == "attempt 2 of 4"
        assert text(driver, f"{box} .badge.health") == "retrying"
        row = job_row_status(driver)  # the jobs table says attempt and error once
        assert row.count("attempt 2 of 4") == 1 and row.count("fails on purpose") == 1, row
        driver.save_screenshot(str(tmp_path / "pipeline-retrying.png"))

        wait(driver, 30).until(lambda d: text(d, f"{box} .badge") == "finished")
        assert text(driver, f"{box} summary") == "attempt 2 of 4"
        driver.find_element(By.CSS_SELECTOR, f"{box} summary").click()
        items = driver.find_elements(By.CSS_SELECTOR, f"{box} .attempts li")
        assert [item.text.split("\n")[0] for item in items] == ["#1 error", "#2 finished"]
        assert "first attempt fails on purpose" in items[0].text
        driver.save_screenshot(str(tmp_path / "pipeline-attempts.png"))


def text(driver: WebDriver, css: str) -> str:
    script = "const e = document.querySelector(arguments[0]); return e ? e.textContent : ''"
    return str(driver.execute_script(script, css))


def waiting_text(driver: WebDriver, box: str) -> str:
    return text(driver, f"{box} .step-reason.waiting")


def job_row_status(driver: WebDriver) -> str:
    return text(driver, '#jobs tr[data-job$="api-trades"] td[data-label="Status"]')


QUICK_RETRY = {"limit": 3, "backoff_seconds": 8, "factor": 1, "max_backoff_seconds": 8}
PIPELINE = {
    "symbol": "BTCUSDT",
    "time_range": "2024-06-01:2024-06-01",
    "requests": [
        {"target": "loader-producer", "type": "api_trades", "retry": QUICK_RETRY},
        {"target": "arango-connector", "type": "api_candles_5m", "retry": {"limit": 0}},
        {
            "target": "graph-builder",
            "type": "gnn_graph",
            "collection_inputs": ["btc_trades_2024_06_01"],
            "collection_output": "btc_graph",
            "depends_on": [0],
        },
        {
            "target": "visualizer",
            "type": "graph_metrics_stream",
            "source": "btc_graph_metrics",
            "depends_on": [1],
        },
    ],
}


@pytest.fixture
def pipeline_service(tmp_path: Path) -> Iterator[ServiceProcess]:
    """A loader that fails once, a connector that fails for good, two ML steps that finish."""
    loader = ["python", "-c", FAIL_ONCE_THEN_WAIT, *gate_files(tmp_path)]
    targets = {
        "loader-producer": {"command": loader},
        "arango-connector": scripted("exit", "4"),
        "graph-builder": scripted("sleep", "1"),
        "visualizer": scripted("sleep", "1"),
    }
    (tmp_path / "targets.json").write_text(json.dumps(targets))
    env = {"DATA_DIR": str(tmp_path / "var"), "TARGETS_FILE": str(tmp_path / "targets.json")}
    with service(env, tmp_path / "service.log") as process:
        yield process


def gate_files(tmp_path: Path) -> list[str]:
    return [str(tmp_path / "failed-once"), str(tmp_path / "gate")]


def box_of(driver: WebDriver, target: str) -> dict[str, Any]:
    found = [box for name, box in boxes(driver).items() if f"-{target}-" in name]
    return found[0] if found else {}


def test_a_real_pipeline_waits_retries_skips_and_finishes_in_the_graph(
    pipeline_service: ServiceProcess, tmp_path: Path
) -> None:
    with chromium(tmp_path / "profile") as driver:
        driver.get(f"{pipeline_service.url}/")
        started = httpx.post(f"{pipeline_service.url}/queues/start", json=PIPELINE, timeout=10)
        assert started.status_code == 200, started.text
        open_queue(driver, pipeline_service.url, started.json()["data"]["queue_id"], 4)
        placed = {
            name.split("-", 2)[2]: (b["column"], b["row"]) for name, b in boxes(driver).items()
        }
        assert sorted(placed.values()) == [(1, 1), (1, 2), (2, 1), (2, 2)], placed
        assert len(arrows(driver)) == 2
        graph = wait(driver, 20).until(
            lambda d: (b := box_of(d, "graph-builder")) and "to finish" in b["text"] and b
        )
        assert "waiting for loader-producer · api_trades to finish" in graph["text"]
        assert graph["status"] == "pending"
        loader = wait(driver, 20).until(
            lambda d: (b := box_of(d, "loader-producer")) and "retrying in" in b["text"] and b
        )
        assert "attempt 2 of 4" in loader["text"]
        driver.save_screenshot(str(tmp_path / "pipeline-waiting.png"))
        keep(
            screenshot(driver, "dashboard-pipeline-waiting-1280x800.png"), "dashboard-pipeline.png"
        )

        skipped = wait(driver, 20).until(
            lambda d: (b := box_of(d, "visualizer"))["status"] == "skipped" and b
        )
        assert "arango-connector · api_candles_5m" in skipped["text"]
        (tmp_path / "gate").touch()  # the loader's second attempt may finish now
        wait(driver, 40).until(lambda d: box_of(d, "graph-builder")["status"] == "finished")
        assert box_of(driver, "loader-producer")["status"] == "finished"
        assert box_of(driver, "arango-connector")["status"] == "error"
        wait(driver, 10).until(lambda d: "error" in d.find_element(By.ID, "queue-title").text)
        driver.save_screenshot(str(tmp_path / "pipeline-ended.png"))
        screenshot(driver, "dashboard-pipeline-live-1280x800.png")
