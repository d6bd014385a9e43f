// The queue view: facts, jobs, the records chart, a job's log tail, and the stop button.
// Job rows are updated in place, so keyboard focus on a row's button survives telemetry.

import { api } from "./api.js";
import { drawChart } from "./chart.js";
import { $, h } from "./dom.js";
import { attemptText, PipelineGraph, reasonOf } from "./graph.js";
import {
  ageSeconds, ageText, count, dateTime, freshnessOf, gapsText, isTerminal, pipeline, restWeight,
  symbols, timeRange,
} from "./format.js";
import { badge, healthBadge, healthNote } from "./list.js";

const JOB_COLUMNS = ["Job", "Status", "Records", "Last loaded", "Error", "Log"];

export class QueueDetail {
  constructor(store, onError) {
    this.store = store;
    this.onError = onError;
    this.id = null;
    this.logJob = null;
    this.jobRows = new Map();
    this.jobBody = $("#jobs").tBodies[0];
    this.graph = new PipelineGraph($("#graph"));
    $("#log-refresh").addEventListener("click", () => this.loadLog());
    $("#stop-button").addEventListener("click", () => this.confirmStop());
    $("#confirm-stop").addEventListener("close", (event) => this.confirmed(event.target));
  }

  // `focus`: move focus to the heading (a view change inside the page, for screen readers);
  // not on the first load, where the browser keeps its own starting point.
  // A queue the page already knows (from the list) shows at once, then is read afresh.
  async open(id, { focus = false } = {}) {
    if (id !== this.id) this.clear(id);
    $("#queue-error").textContent = "";
    this.render();
    if (focus) $("#queue-title").focus();
    const { data } = await api.get(id);
    this.store.put(data);
    this.render();
    await this.loadLog();
  }

  clear(id) {
    this.id = id;
    this.logJob = null;
    this.shown = null;
    this.jobRows.clear();
    this.jobBody.replaceChildren();
    this.graph.clear();
    $("#queue-body").hidden = true;
    $("#queue-title").textContent = "Loading queue…";
    $("#log").textContent = "";
    $("#queue-note").textContent = "";
  }

  update(queue) {
    if (queue.id !== this.id) return;
    const before = this.shown;
    this.render();
    if (before && before !== queue.status) this.loadLog();
  }

  render() {
    const queue = this.store.get(this.id);
    if (!queue) return;
    $("#queue-body").hidden = false;
    this.shown = queue.status;
    $("#queue-title").replaceChildren(`Queue ${symbols(queue)} `, badge(queue.status), " ",
      healthBadge(queue.health) ?? "");
    $("#queue-facts").replaceChildren(...facts(queue).flatMap(([term, value]) =>
      [h("dt", {}, term), h("dd", {}, value)]));
    $("#stop-button").disabled = isTerminal(queue.status) || queue.status === "stopping";
    this.renderJobs(queue.jobs);
    this.graph.render(queue.jobs);
    drawChart($("#chart"), this.store.points(queue.id));
    this.tick();
  }

  // Rows are kept per job name and refilled; only a job that appears adds a row.
  renderJobs(jobs) {
    jobs.forEach((job, index) => {
      let row = this.jobRows.get(job.name);
      if (!row) {
        row = this.jobRow(job);
        this.jobRows.set(job.name, row);
      }
      const there = this.jobBody.children[index] ?? null;
      if (there !== row) this.jobBody.insertBefore(row, there);
      this.fillJob(row, job);
    });
  }

  jobRow(job) {
    const row = h("tr", { "data-job": job.name },
      JOB_COLUMNS.map((label) => h("td", { "data-label": label })));
    row.button = h("button", { type: "button", onclick: () => this.loadLog(job.name) });
    row.cells[5].append(row.button);
    return row;
  }

  fillJob(row, job) {
    const [name, status, records, loaded, error] = row.cells;
    const weight = restWeight(job.rest_weight);
    name.replaceChildren(`${job.target} · ${job.type}`,
      ...(weight ? [h("br"), h("small", { class: "muted rest-weight" }, weight)] : []));
    // A job waiting to retry says its attempt and error once, in its waiting reason.
    const waiting = Boolean(job.waiting_for);
    status.replaceChildren(badge(job.status), " ", healthBadge(job.health, { brief: waiting }) ?? "",
      (!waiting && healthNote(job.health)) || "", jobNote(job));
    records.replaceChildren(count(job.records_written), gapsNote(job));
    loaded.textContent = dateTime(job.last_loaded_timestamp);
    error.textContent = job.error_message ?? "—";
    error.className = job.error_message ? "error" : "";
    row.button.textContent = `Log of ${job.target}`;
    row.button.setAttribute("aria-pressed", String(job.name === this.logJob));
  }

  tick() {
    const queue = this.store.get(this.id);
    const cell = $("#queue-facts .age");
    if (!queue || !cell) return;
    const age = ageSeconds(queue.updated_at);
    cell.textContent = ageText(age);
    cell.className = `age ${freshnessOf(queue.status, age)}`;
  }

  async loadLog(job = this.logJob) {
    const queue = this.store.get(this.id);
    if (!queue?.jobs.length) return;
    try {
      const { data } = await api.logs(this.id, job ?? queue.jobs[0].name);
      this.logJob = data.job;
      const hidden = data.omitted ? `, ${data.omitted} routine telemetry lines hidden` : "";
      $("#log-title").textContent =
        `Log of ${data.target} · ${data.type} (last ${data.lines.length} lines${hidden}; UTC)`;
      $("#log").textContent = data.lines.join("\n") || "(empty)";
      this.render();
    } catch (error) {
      $("#log").textContent = `Log unavailable: ${error.message}`;
    }
  }

  confirmStop() {
    const dialog = $("#confirm-stop");
    dialog.returnValue = "";
    dialog.showModal();
  }

  async confirmed(dialog) {
    if (dialog.returnValue === "stop" && this.id) await this.stop(this.id);
  }

  async stop(id) {
    try {
      const { data, message } = await api.stop(id);
      $("#queue-error").textContent = "";
      $("#queue-note").textContent = `Stop requested: ${message.toLowerCase()} (${data.status}).`;
      $("#stop-button").disabled = true;
    } catch (error) {
      this.onError(error, $("#queue-error"),
        { action: "Stopping a queue", retry: () => this.stop(id) });
    }
  }
}

// Under a job's status: its attempt once it runs again and why it waits (how it ended badly
// is in the Error column).
function jobNote(job) {
  const why = reasonOf(job);
  const waiting = why?.kind === "waiting" ? why.text : null;
  const attempt = attemptText(job);
  const text = [waiting?.includes(attempt) ? null : attempt, waiting].filter(Boolean).join(" · ");
  return text ? h("div", { class: "job-note" }, text) : "";
}

// A job's gaps under its record count; amber while some are not backfilled.
function gapsNote(job) {
  const text = gapsText(job);
  if (!text) return "";
  return h("div", { class: job.gaps_open ? "gaps open" : "gaps" }, text);
}

function facts(queue) {
  return [
    ["Id", h("code", {}, queue.id)],
    ["Exchange", queue.exchange],
    ["Source", `${queue.type} · ${queue.loader_type}`],
    ["Time range", timeRange(queue.time_range)],
    ["Pipeline", pipeline(queue.jobs)],
    ["Schedule", queue.schedule ? h("a", { href: "#/schedules" }, queue.schedule.name,
      queue.schedule.manual ? ` · run now at ${dateTime(queue.schedule.slot)}`
        : ` · slot ${dateTime(queue.schedule.slot)}`) : "—"],
    ["Health", queue.health && queue.health.state !== "ok"
      ? h("span", {}, healthBadge(queue.health), " ", queue.health.reason ?? "") : "ok"],
    ["Records", count(queue.records_written)],
    ["Gaps", gapsText(queue) ?? "none found"],
    ["Last loaded", dateTime(queue.last_loaded_timestamp)],
    ["Updated", h("span", { class: "age", title: `updated ${dateTime(queue.updated_at)}` })],
    ["Started", dateTime(queue.started_at)],
    ["Finished", dateTime(queue.finished_at)],
    ["Error", queue.error_message ?? "—"],
  ];
}
