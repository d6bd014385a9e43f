// coverage.js: what a day's cell says (its label is also what a screen reader reads).
import assert from "node:assert/strict";
import { test } from "node:test";

import { dayLabel } from "../static/coverage.js";

const day = (fields) => ({ count: 0, missing: [], loading: [], ...fields });

test("a day's label names its state, its records, what is missing and a running load", () => {
  assert.equal(dayLabel(day({ day: "2024-06-02", state: "missing" })), "2024-06-02: missing");
  assert.equal(dayLabel(day({ day: "2024-06-01", state: "complete", count: 1440 })),
    "2024-06-01: complete; 1,440 records");
  const partial = day({ day: "2024-06-01", state: "partial", count: 1000, loading: ["q"],
    missing: [{ start: "2024-06-01T16:40:00.000Z", end: "2024-06-01T23:59:59.999Z" }] });
  assert.equal(dayLabel(partial),
    "2024-06-01: partial; 1,000 records; missing 16:40–23:59; loading now");
});
