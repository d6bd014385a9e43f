"""GET /coverage and POST /coverage/fill on the real app: validation (422 naming the field),
tokens, connectors' reports over the real broker into the map and out as events, fills
that cannot be loaded, and reports the service cannot use set aside."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import msgspec
import orjson
import pytest

from app.coverage.counting import CoverageCount
from app.coverage.days import DayRecord, day_start_ms
from app.coverage.runs import Run
from app.models.messages import CoverageDay, CoverageReport
from tests.fixtures.eventually import eventually
from tests.fixtures.metrics import sample
from tests.fixtures.wsclient import listening
from tests.integration.test_ws_fanout import flood

HOUR = 3_600_000
DAY = date(2024, 1, 1)
SERIES = {"exchange": "binance", "symbol": "BTCUSDT", "type": "candles_1h"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"exchange": "moex"}, "exchange"),
        ({"exchange": "nasdaq"}, "exchange"),
        ({"symbol": "btc-usdt"}, "symbol"),
        ({"type": "ticker"}, "type"),
        ({"type": "api_candles_1w"}, "type"),
        ({"from": "2024-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2024-01-05", "to": "2024-01-01"}, "from"),
        ({"from": "2022-12-31", "to": "2024-01-01"}, "to"),
    ],
)
async def test_a_bad_filter_is_422_naming_the_field(
    app_with: Any, query: dict[str, str], field: str
) -> None:
    async with app_with() as qm:
        for method in ("GET", "POST"):
            path = "/coverage" if method == "GET" else "/coverage/fill"
            answer = await qm.client.request(method, path, params=query)
            assert answer.status_code == 422, answer.text
            body = answer.json()
            assert body["status"] == "error" and [p["field"] for p in body["data"]] == [field]


async def test_a_fill_needs_the_token_when_tokens_are_set(app_with: Any) -> None:
    async with app_with(api_tokens="secret") as qm:
        refused = await qm.client.post("/coverage/fill", params=SERIES)
        allowed = await qm.client.post(
            "/coverage/fill",
            params={**SERIES, "from": "2024-01-01", "to": "2024-01-01", "dry_run": "true"},
            headers={"Authorization": "Bearer secret"},
        )
        read = await qm.client.get("/coverage")
    assert refused.status_code == 401 and refused.json()["status"] == "error"
    assert allowed.status_code == 200 and read.status_code == 200


async def test_a_series_never_loaded_is_missing_day_by_day_and_others_are_not_shown(
    app_with: Any,
) -> None:
    async with app_with() as qm:
        nothing = (await qm.client.get("/coverage")).json()
        named = await qm.client.get(
            "/coverage",
            params={**SERIES, "type": "api_candles_1h", "from": "2024-01-01", "to": "2024-01-03"},
        )
    assert nothing["status"] == "success" and nothing["data"]["series"] == []
    [series] = named.json()["data"]["series"]
    assert series["type"] == "candles_1h" and series["key"] == "open_time"
    assert [(d["day"], d["state"]) for d in series["days"]] == [
        ("2024-01-01", "missing"),
        ("2024-01-02", "missing"),
        ("2024-01-03", "missing"),
    ]
    assert series["summary"] == {"complete": 0, "partial": 0, "missing": 3, "failed": 0}


def candle_day(hours: int, data_type: str = "candles_1h") -> CoverageDay:
    """The first `hours` 1h candles of 2024-01-01 landed."""
    start = day_start_ms(DAY)
    last = start + (hours - 1) * HOUR
    return CoverageDay(
        exchange="binance",
        symbol="BTCUSDT",
        data_type=data_type,
        day=DAY,
        runs=[(start, last, start, last + HOUR - 1)],
        first_ms=start,
        last_ms=last,
    )


def coverage_report(*days: CoverageDay, collection: str = "btc_candles") -> bytes:
    report = CoverageReport(queue_id="q-1", job="connector", collection=collection, days=list(days))
    return msgspec.json.encode(report)


async def test_reports_of_connectors_land_in_the_map_and_are_announced(served_with: Any) -> None:
    async with served_with() as served:
        await served.dispatcher_ready()
        await served.fanout_ready()
        async with listening(served.ws_url) as client:
            settings = served.state.settings
            await flood(
                settings, [coverage_report(candle_day(10)), coverage_report(candle_day(24))], "q-1"
            )
            await client.wait_for(lambda m: len(client.events("coverage.updated")) == 2)
            async with httpx.AsyncClient(base_url=served.url) as http:
                series = await eventually(
                    lambda: http.get("/coverage", params=SERIES),
                    lambda r: r.json()["data"]["series"][0]["days"][0]["count"] == 24,
                    what="both reports merged",
                )
    [day] = series.json()["data"]["series"][0]["days"]
    assert (day["state"], day["collections"]) == ("complete", ["btc_candles"])
    event = client.events("coverage.updated")[0]
    assert event["queue_id"] == "q-1" and event["series"] == [
        {**SERIES, "first_day": "2024-01-01", "last_day": "2024-01-01"}
    ]
    assert sample(served.state.metrics, "coverage_reports_total") == 2


async def test_a_coverage_report_the_service_cannot_use_is_dead_lettered(
    served_with: Any,
) -> None:
    bad = orjson.dumps(
        {
            "type": "coverage",
            "queue_id": "q",
            "job": "j",
            "collection": "c",
            "days": [
                {
                    "exchange": "binance",
                    "symbol": "BTCUSDT",
                    "data_type": "ticker",
                    "day": "2024-01-01",
                    "runs": [],
                }
            ],
        }
    )
    async with served_with() as served:
        await served.dispatcher_ready()
        await flood(served.state.settings, [bad], "q")
        await eventually(
            lambda: sample(served.state.metrics, "dead_lettered_total", reason="invalid"),
            lambda n: n == 1,
            what="the report dead-lettered",
        )


async def test_the_gauge_counts_the_last_week_by_state(app_with: Any) -> None:
    """The supervised `coverage-count` keeps `coverage_days{state}`; counted here at once."""
    async with app_with() as qm:
        coverage = qm.state.coverage
        day = coverage.today() - timedelta(days=2)
        start = day_start_ms(day)
        hours = Run(start, start + 23 * HOUR, start, start + 24 * HOUR - 1)
        record = DayRecord("binance", "BTCUSDT", "candles_1h", day, [hours], start, start)
        await coverage.store.merge([record])
        await CoverageCount(coverage).count()
        assert qm.state.supervisor.state("coverage-count") is not None
        metrics = qm.state.metrics
    counts = {s: sample(metrics, "coverage_days", state=s) for s in ("complete", "missing")}
    assert counts == {"complete": 1, "missing": 6}
