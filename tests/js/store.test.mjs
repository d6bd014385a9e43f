// store.js: the newest state of each queue wins, records per second from successive
// updates (none once a queue ended), a bounded history for the chart.
import assert from "node:assert/strict";
import { test } from "node:test";

import { QueueStore } from "../static/store.js";

const T0 = Date.parse("2026-12-02T07:00:00Z");
const at = (seconds) => new Date(T0 + seconds * 1000).toISOString();
const queue = (fields) => ({ id: "q1", status: "loading", revision: 1, records_written: 0,
  updated_at: at(0), ...fields });

test("a newer revision replaces the queue, an older one is ignored", () => {
  const store = new QueueStore();
  assert.ok(store.put(queue({ revision: 2, records_written: 20 })));
  assert.equal(store.put(queue({ revision: 1, records_written: 10 })), false);
  assert.equal(store.get("q1").records_written, 20);
  assert.equal(store.put(queue({ revision: 2, updated_at: at(-1) })), false, "same revision, older");
  assert.ok(store.put(queue({ revision: 2, updated_at: at(1), records_written: 25 })));
  assert.equal(store.get("q1").records_written, 25);
});

test("records per second between updates; none for an ended queue", () => {
  const store = new QueueStore();
  store.put(queue({ revision: 1, records_written: 0, updated_at: at(0) }));
  assert.equal(store.rate("q1"), null, "one update says no rate yet");
  store.put(queue({ revision: 2, records_written: 500, updated_at: at(2) }));
  assert.equal(store.rate("q1"), 250);
  store.put(queue({ revision: 3, records_written: 500, updated_at: at(3) }));
  assert.equal(store.rate("q1"), 250, "a quick update without records keeps the rate");
  store.put(queue({ revision: 4, records_written: 500, updated_at: at(13) }));
  assert.equal(store.rate("q1"), 0, "ten seconds without records: stalled");
  store.put(queue({ revision: 5, status: "finished", records_written: 600, updated_at: at(14) }));
  assert.equal(store.rate("q1"), null);
  assert.equal(store.rate("nobody"), null);
});

test("the chart's history keeps distinct points, at most 300", () => {
  const store = new QueueStore();
  store.put(queue({ revision: 1, records_written: 0 }));
  store.put(queue({ revision: 2, records_written: 0 }));
  assert.equal(store.points("q1").length, 1, "the same point twice is kept once");
  for (let i = 1; i <= 400; i += 1) {
    store.put(queue({ revision: 2 + i, records_written: i, updated_at: at(i) }));
  }
  const points = store.points("q1");
  assert.equal(points.length, 300);
  assert.deepEqual(points.at(-1), { at: T0 + 400 * 1000, records: 400 });
  assert.deepEqual(store.points("nobody"), []);
});
