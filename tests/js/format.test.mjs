// format.js: one date/time form, freshness only while a queue runs, the short descriptions
// that tell queue rows apart.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  ageText, count, dateTime, freshness, freshnessOf, gapsText, isTerminal, pipeline, rate,
  restWeight,
  shortId, symbols, timeRange, waitingNote,
} from "../static/format.js";

test("every way a moment arrives reads the same, in UTC", () => {
  const expected = "2026-12-02 07:10:40 UTC";
  for (const value of ["2026-12-02T07:10:40.409615+00:00", "2026-12-02T07:10:40.409Z",
    "2026-12-02T10:10:40+03:00", Date.parse("2026-12-02T07:10:40Z")]) {
    assert.equal(dateTime(value), expected, String(value));
  }
  assert.equal(dateTime(null), "—");
  assert.equal(dateTime(""), "—");
  assert.equal(dateTime("not a time"), "not a time");
});

test("freshness: green under 5 s, yellow under 30 s, red beyond (seed 000)", () => {
  assert.deepEqual([0, 4.9, 5, 29.9, 30, 600, null].map(freshness),
    ["fresh", "fresh", "aging", "aging", "stale", "stale", "stale"]);
});

test("an ended queue's last update is not painted as stale", () => {
  for (const status of ["finished", "stopped", "error"]) {
    assert.ok(isTerminal(status));
    assert.equal(freshnessOf(status, 3600), "ended");
  }
  for (const status of ["pending", "starting", "loading", "stopping"]) {
    assert.ok(!isTerminal(status));
    assert.equal(freshnessOf(status, 3600), "stale");
    assert.equal(freshnessOf(status, 1), "fresh");
  }
});

test("time ranges, short ids, symbols", () => {
  assert.equal(timeRange("2024-06-01:2024-06-30"), "2024-06-01 → 2024-06-30");
  assert.equal(timeRange("2024-08-01:2024-08-01"), "2024-08-01");
  assert.equal(shortId("ccf3ac60-5118-4041-b356-4ca0861ae70f"), "ccf3ac60");
  assert.equal(symbols({ symbol: "BTCUSDT", symbols: [] }), "BTCUSDT");
  assert.equal(symbols({ symbol: "SBER", symbols: ["SBER", "GAZP", "LKOH", "YNDX"] }),
    "SBER, GAZP, LKOH +1");
});

test("the pipeline in short: the loaders' types, then each target once", () => {
  const job = (target, type) => ({ target, type });
  assert.equal(pipeline([job("loader-producer", "api_candles_5m"),
    job("arango-connector", "api_candles_5m")]), "api_candles_5m: loader → connector");
  const realtime = [
    job("loader-producer", "ws_trades"), job("loader-producer", "ws_candles_1m"),
    job("loader-producer", "ws_depth"), job("arango-connector", "ws_trades"),
    job("graph-builder", "realtime_graph"), job("gnn-trainer", "realtime_gnn_infer"),
    job("visualizer", "graph_metrics_stream"),
  ];
  assert.equal(pipeline(realtime),
    "ws_trades, ws_candles_1m +1: loader ×3 → connector → graph → gnn → visualizer");
  assert.equal(pipeline([job("visualizer", "graph_metrics_stream")]),
    "graph_metrics_stream: visualizer");
  assert.equal(pipeline([]), "—");
});

test("numbers and ages", () => {
  assert.equal(count(1234567), "1,234,567");
  assert.equal(count(undefined), "0");
  assert.equal(rate(null), "—");
  assert.equal(rate(12.345), "12.3");
  assert.equal(rate(1463.4), "1,463");
  assert.deepEqual([null, 59.9, 60, 3599, 3600, 86400].map(ageText),
    ["—", "59 s ago", "1 min ago", "59 min ago", "1 h ago", "1 d ago"]);
});

test("gaps read as found, open and backfilled; nothing when none was found", () => {
  assert.equal(gapsText({ gaps_detected: 3, gaps_open: 1, records_backfilled: 1234 }),
    "3 gaps, 1 open, 1,234 backfilled");
  assert.equal(gapsText({ gaps_detected: 0, gaps_open: 0 }), null);
  assert.equal(gapsText({}), null);
});

test("a Binance loader's REST weight: used of its share, loaders sharing, a wait", () => {
  const weight = { share: 2400, used: 812, loaders: 2, window_seconds: 60 };
  assert.equal(restWeight(weight), "REST weight 812/2,400 a min · 2 loaders");
  assert.equal(restWeight({ ...weight, loaders: 1, window_seconds: 2 }),
    "REST weight 812/2,400 per 2 s · 1 loader");
  assert.equal(restWeight({ ...weight, waiting_until: "2026-12-02T07:12:00Z" }),
    "REST weight 812/2,400 a min · 2 loaders · waiting until 2026-12-02 07:12:00 UTC");
  assert.equal(restWeight(null), "");
});

test("a queue's row says how many of its jobs wait and how many were skipped", () => {
  const jobs = [{ status: "finished" }, { status: "pending", waiting_for: "waiting for a slot" },
    { status: "pending", waiting_for: "retrying in 10 s (attempt 2 of 4): exit 1" },
    { status: "skipped", error_message: "upstream failed" }];
  assert.equal(waitingNote(jobs), "2 waiting · 1 skipped");
  assert.equal(waitingNote([{ status: "loading" }]), "");
  assert.equal(waitingNote(), "");
});
