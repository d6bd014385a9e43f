// The queues view: one row per queue (a card at phone width), updated in place. A row says
// what tells it from its neighbours: symbol and short id, time range, pipeline.

import { h } from "./dom.js";
import {
  ageSeconds, ageText, count, dateTime, freshnessOf, pipeline, rate, shortId, symbols, timeRange,
  waitingNote,
} from "./format.js";

const COLUMNS = ["Status", "Queue", "Exchange", "Time range", "Pipeline", "Records", "Rec/s",
  "Updated", "Started", "Finished"];
const NUMERIC = new Set(["Records", "Rec/s"]);

export function badge(status) {
  return h("span", { class: `badge status-${status}` }, status);
}

// Beside the status badge: `retrying` and `stalled` in amber with the attempt, `degraded`
// in red; nothing while all is well. The reason is the tooltip and, in `healthNote`, a line.
// `brief`: the state alone, where a waiting reason beside it says the attempt.
export function healthBadge(health, { brief = false } = {}) {
  if (!health || health.state === "ok") return null;
  const bound = health.max_attempts ? ` of ${health.max_attempts}` : "";
  const label = !brief && health.state === "retrying" && health.attempt
    ? `retrying · attempt ${health.attempt}${bound}` : health.state;
  return h("span", { class: `badge health health-${healthLevel(health)}`,
    title: health.reason ?? "" }, label);
}

export function healthNote(health) {
  if (!health || health.state === "ok") return null;
  const text = health.state === "retrying" ? (health.last_error ?? health.reason) : health.reason;
  return h("div", { class: `health-note health-${healthLevel(health)}` }, text ?? "");
}

const healthLevel = (health) => (health.state === "degraded" ? "bad" : "warn");

export class QueueList {
  constructor(table, countLine, store) {
    this.body = table.tBodies[0];
    this.countLine = countLine;
    this.store = store;
    this.rows = new Map();
    this.total = 0;
    this.filter = { status: "", symbol: "" };
  }

  matches(queue) {
    const { status, symbol } = this.filter;
    if (status && queue.status !== status) return false;
    if (!symbol) return true;
    return queue.symbol === symbol || (queue.symbols ?? []).includes(symbol);
  }

  loading() {
    if (!this.rows.size) this.countLine.textContent = "Loading queues…";
  }

  replace(queues, total) {
    this.body.replaceChildren();
    this.rows.clear();
    this.total = total;
    for (const queue of queues) this.body.append(this.row(queue));
    this.summarise();
  }

  // A live update: refresh the row, add it on top if new, drop it if the filter rejects it.
  update(queue) {
    const row = this.rows.get(queue.id);
    if (!this.matches(queue)) {
      if (row) this.remove(queue.id);
      return;
    }
    if (row) this.fill(row, queue);
    else {
      this.body.prepend(this.row(queue));
      this.total += 1;
    }
    this.summarise();
  }

  remove(id) {
    this.rows.get(id)?.remove();
    this.rows.delete(id);
    this.total = Math.max(0, this.total - 1);
  }

  row(queue) {
    const cells = COLUMNS.map((label) =>
      h("td", { "data-label": label, class: NUMERIC.has(label) ? "num" : null }));
    const row = h("tr", { "data-queue-id": queue.id }, cells);
    row.link = h("a", { href: `#/queues/${encodeURIComponent(queue.id)}` });
    row.cells[1].append(h("span", {}, row.link, " ", h("code", { class: "id" }, shortId(queue.id))),
      queue.schedule ? h("span", { class: "schedule-tag", title: `made by schedule `
        + `${queue.schedule.name} for ${dateTime(queue.schedule.slot)}` },
      ` ⏰ ${queue.schedule.name}`) : "");
    this.rows.set(queue.id, row);
    this.fill(row, queue);
    return row;
  }

  fill(row, queue) {
    const [status, , exchange, range, steps, records, perSecond, , started, finished] = row.cells;
    status.replaceChildren(badge(queue.status), " ", healthBadge(queue.health) ?? "",
      healthNote(queue.health) ?? "");
    row.link.textContent = symbols(queue);
    const health = queue.health && queue.health.state !== "ok" ? `, ${queue.health.state}` : "";
    row.link.setAttribute("aria-label", `Queue ${symbols(queue)} ${shortId(queue.id)}, `
      + `${timeRange(queue.time_range)}, ${queue.status}${health}`);
    exchange.textContent = queue.exchange;
    range.textContent = timeRange(queue.time_range);
    const note = waitingNote(queue.jobs);
    steps.replaceChildren(h("span", {}, pipeline(queue.jobs),
      note ? h("div", { class: "job-note" }, note) : ""));
    steps.title = (queue.jobs ?? []).map((job) =>
      `${job.target} · ${job.type}: ${job.waiting_for ?? job.status}`).join("\n");
    records.textContent = count(queue.records_written);
    perSecond.textContent = rate(this.store.rate(queue.id));
    started.textContent = dateTime(queue.started_at);
    finished.textContent = dateTime(queue.finished_at);
    row.dataset.status = queue.status;
    this.tick(row, queue);
  }

  // Called every second: the age of the last update, coloured while the queue runs.
  tick(row, queue = this.store.get(row.dataset.queueId)) {
    if (!queue) return;
    const cell = row.cells[7];
    const age = ageSeconds(queue.updated_at);
    cell.textContent = ageText(age);
    cell.className = `age ${freshnessOf(queue.status, age)}`;
    cell.title = `updated ${dateTime(queue.updated_at)}`;
  }

  tickAll() {
    for (const row of this.rows.values()) this.tick(row);
  }

  summarise() {
    const shown = this.rows.size;
    this.countLine.textContent = shown
      ? `Showing ${shown} of ${Math.max(shown, this.total)} queues`
      : "No queues match.";
  }
}
