// graph.js: the pipeline's layout (columns by dependency depth, rows, edges) and the texts of
// its boxes (step names, upstreams, attempts, waiting reasons).
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  attemptText, layout, maxAttempts, reasonOf, stepName, upstreamNames,
} from "../static/graph.js";

const job = (name, target, type, depends_on = [], more = {}) =>
  ({ name, target, type, status: "pending", depends_on, ...more });

// Seed 002's historical pipeline: two loaders, their connectors, graph-builder, gnn-trainer.
const HISTORY = [
  job("load-trades", "loader-producer", "api_trades"),
  job("load-candles", "loader-producer", "api_candles_5m"),
  job("conn-trades", "arango-connector", "api_trades", ["load-trades"]),
  job("conn-candles", "arango-connector", "api_candles_5m", ["load-candles"]),
  job("graph", "graph-builder", "gnn_graph", ["conn-trades", "conn-candles"]),
  job("train", "gnn-trainer", "gnn_train", ["graph"]),
];

const where = (plan) => Object.fromEntries(plan.nodes.map((n) => [n.name, [n.column, n.row]]));

test("a job's column is 1 + the deepest of its upstreams'", () => {
  const plan = layout(HISTORY);
  assert.deepEqual(where(plan), {
    "load-trades": [0, 0], "load-candles": [0, 1], "conn-trades": [1, 0],
    "conn-candles": [1, 1], graph: [2, 0], train: [3, 0],
  });
  assert.equal(plan.columns, 4);
  assert.equal(plan.rows, 2);
  const skipping = layout([...HISTORY, job("viz", "visualizer", "ohlcv", ["load-trades", "graph"])]);
  assert.deepEqual(where(skipping).viz, [3, 1]); // graph is in column 2: one past it
});

test("one edge per depends_on name, from the upstream to the job", () => {
  const edges = layout(HISTORY).edges.map(({ from, to }) => `${from}->${to}`).sort();
  assert.deepEqual(edges, ["conn-candles->graph", "conn-trades->graph", "graph->train",
    "load-candles->conn-candles", "load-trades->conn-trades"]);
});

test("no two boxes share a cell and rows fill each column from the top", () => {
  const wide = Array.from({ length: 7 }, (_, i) => job(`l${i}`, "loader-producer", `api_t${i}`));
  const jobs = [...wide, ...wide.map((w, i) => job(`c${i}`, "arango-connector", w.type, [w.name]))];
  const plan = layout(jobs);
  const cells = plan.nodes.map((n) => `${n.column}:${n.row}`);
  assert.equal(new Set(cells).size, jobs.length);
  for (const column of [0, 1]) {
    const rows = plan.nodes.filter((n) => n.column === column).map((n) => n.row).sort((a, b) => a - b);
    assert.deepEqual(rows, [0, 1, 2, 3, 4, 5, 6]);
  }
  assert.deepEqual(where(plan).c3, [1, where(plan).l3[1]]); // level with its loader
});

test("a dependent sits level with its upstreams where it can", () => {
  const jobs = [job("a", "loader-producer", "api_a"), job("b", "loader-producer", "api_b"),
    job("after-b", "arango-connector", "api_b", ["b"]), job("after-a", "arango-connector", "api_a", ["a"])];
  const plan = where(layout(jobs));
  assert.equal(plan["after-a"][1], plan.a[1]);
  assert.equal(plan["after-b"][1], plan.b[1]);
});

test("every edge runs left to right: the drawing has no cycle, even when the input has one", () => {
  for (const jobs of [HISTORY, [job("x", "graph-builder", "gnn_graph", ["y"]),
    job("y", "gnn-trainer", "gnn_train", ["x"]), job("z", "visualizer", "ohlcv", ["z", "y"])]]) {
    const plan = layout(jobs);
    const column = new Map(plan.nodes.map((n) => [n.name, n.column]));
    assert.equal(plan.nodes.length, jobs.length);
    for (const edge of plan.edges) assert.ok(column.get(edge.from) < column.get(edge.to), edge);
  }
});

test("upstreams outside the queue draw no edge; old queues without depends_on lie in one column", () => {
  const plan = layout([job("g", "graph-builder", "gnn_graph", ["elsewhere"]),
    { name: "old", target: "loader-producer", type: "api_trades", status: "finished" }]);
  assert.deepEqual(where(plan), { g: [0, 0], old: [0, 1] });
  assert.deepEqual(plan.edges, []);
  assert.deepEqual(layout([]), { nodes: [], edges: [], columns: 0, rows: 0 });
});

test("a box names its step and its upstreams by target and type", () => {
  assert.equal(stepName(HISTORY[4]), "graph · gnn_graph");
  assert.deepEqual(upstreamNames(HISTORY[4], HISTORY),
    ["connector · api_trades", "connector · api_candles_5m"]);
  assert.deepEqual(upstreamNames(job("v", "visualizer", "ohlcv", ["gone"]), HISTORY), ["gone"]);
});

test("attempt 2 of 4: from health while retrying, else from the request's retry limit", () => {
  const failedOnce = { status: "loading", attempt: 2, attempts: [{ attempt: 1 }, { attempt: 2 }],
    request: { retry: { limit: 3 } }, health: { state: "ok" } };
  assert.equal(maxAttempts(failedOnce), 4);
  assert.equal(attemptText(failedOnce), "attempt 2 of 4");
  // Attempt 1 failed; the job waits for attempt 2, as its waiting reason says.
  const waiting = { status: "pending", attempt: 1, attempts: [{ attempt: 1, status: "error" }],
    health: { state: "retrying", attempt: 1, max_attempts: 5 },
    waiting_for: "retrying in 10 s (attempt 2 of 5): exit code 1" };
  assert.equal(attemptText(waiting), "attempt 2 of 5");
  const first = { status: "loading", attempt: 1, attempts: [{ attempt: 1 }], health: { state: "ok" } };
  assert.equal(attemptText(first), null);
  assert.equal(attemptText({ status: "pending", attempt: 0, attempts: [] }), null);
  assert.equal(attemptText({ status: "error", attempt: 3, attempts: [] }), "attempt 3");
});

test("the reason under a box: waiting while it waits, the error or skip once it ended so", () => {
  assert.deepEqual(reasonOf({ status: "pending", waiting_for: "waiting for a slot: 8 of 8" }),
    { kind: "waiting", text: "waiting for a slot: 8 of 8" });
  assert.deepEqual(reasonOf({ status: "skipped", error_message: "upstream failed" }),
    { kind: "skipped", text: "upstream failed" });
  assert.equal(reasonOf({ status: "finished", waiting_for: "stale" }), null);
  assert.equal(reasonOf({ status: "loading" }), null);
});
