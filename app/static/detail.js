// The queue view: facts, jobs, the records chart, a job's log tail, and the stop button.

import { api } from "./api.js";
import { drawChart } from "./chart.js";
import { $, h } from "./dom.js";
import { ageSeconds, ageText, count, freshness, shortTime, symbols } from "./format.js";
import { badge, healthBadge, healthNote } from "./list.js";

const TERMINAL = ["finished", "stopped", "error"];

export class QueueDetail {
  constructor(store, onError) {
    this.store = store;
    this.onError = onError;
    this.id = null;
    this.logJob = null;
    this.jobBody = $("#jobs").tBodies[0];
    $("#log-refresh").addEventListener("click", () => this.loadLog());
    $("#stop-button").addEventListener("click", () => this.confirmStop());
    $("#confirm-stop").addEventListener("close", (event) => this.confirmed(event.target));
  }

  async open(id) {
    this.id = id;
    this.logJob = null;
    $("#queue-error").textContent = "";
    $("#log").textContent = "";
    $("#queue-note").textContent = "";
    const { data } = await api.get(id);
    this.store.put(data);
    this.render();
    $("#queue-title").focus();
    await this.loadLog();
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
    this.shown = queue.status;
    $("#queue-title").replaceChildren(`Queue ${symbols(queue)} `, badge(queue.status), " ",
      healthBadge(queue.health) ?? "");
    $("#queue-facts").replaceChildren(...facts(queue).flatMap(([term, value]) =>
      [h("dt", {}, term), h("dd", {}, value)]));
    $("#stop-button").disabled = TERMINAL.includes(queue.status) || queue.status === "stopping";
    this.jobBody.replaceChildren(...queue.jobs.map((job) => this.jobRow(job)));
    drawChart($("#chart"), this.store.points(queue.id));
    this.tick();
  }

  tick() {
    const queue = this.store.get(this.id);
    const cell = $("#queue-facts .age");
    if (!queue || !cell) return;
    const age = ageSeconds(queue.updated_at);
    cell.textContent = ageText(age);
    cell.className = `age ${freshness(age)}`;
  }

  jobRow(job) {
    const chosen = job.name === this.logJob;
    const show = h("button", { type: "button", "aria-pressed": String(chosen),
      onclick: () => this.loadLog(job.name) }, `Log of ${job.target}`);
    return h("tr", { "data-job": job.name },
      h("td", { "data-label": "Job" }, `${job.target} · ${job.type}`),
      h("td", { "data-label": "Status" }, badge(job.status), " ", healthBadge(job.health),
        healthNote(job.health)),
      h("td", { "data-label": "Records" }, count(job.records_written)),
      h("td", { "data-label": "Last loaded" }, job.last_loaded_timestamp ?? "—"),
      h("td", { "data-label": "Error", class: job.error_message ? "error" : "" },
        job.error_message ?? "—"),
      h("td", { "data-label": "Log" }, show));
  }

  async loadLog(job = this.logJob) {
    const queue = this.store.get(this.id);
    if (!queue?.jobs.length) return;
    try {
      const { data } = await api.logs(this.id, job ?? queue.jobs[0].name);
      this.logJob = data.job;
      const hidden = data.omitted ? `, ${data.omitted} routine telemetry lines hidden` : "";
      $("#log-title").textContent =
        `Log of ${data.target} · ${data.type} (last ${data.lines.length} lines${hidden}; times in UTC)`;
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

function facts(queue) {
  return [
    ["Id", h("code", {}, queue.id)],
    ["Exchange", queue.exchange],
    ["Type", `${queue.type} · ${queue.loader_type}`],
    ["Time range", queue.time_range],
    ["Health", queue.health && queue.health.state !== "ok"
      ? h("span", {}, healthBadge(queue.health), " ", queue.health.reason ?? "") : "ok"],
    ["Records", count(queue.records_written)],
    ["Last loaded", queue.last_loaded_timestamp ?? "—"],
    ["Updated", h("span", { class: "age" })],
    ["Started", shortTime(queue.started_at)],
    ["Finished", shortTime(queue.finished_at)],
    ["Error", queue.error_message ?? "—"],
  ];
}
