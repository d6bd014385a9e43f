// The schedules page: every schedule with its cron, next run and last runs (each linking to
// its queue), a switch to enable or disable it and a button to run it now. Live: a
// `schedule.*` event reloads that schedule's row.

import { api } from "./api.js";
import { $, h } from "./dom.js";
import { dateTime, shortId } from "./format.js";
import { badge } from "./list.js";

const SHOWN_RUNS = 5;

export class ScheduleList {
  constructor(table, onError) {
    this.body = table.tBodies[0];
    this.onError = onError;
    this.rows = new Map();
    this.loaded = false;
  }

  async load() {
    const { data } = await api.schedules();
    this.rows.clear();
    this.body.replaceChildren(...data.map((schedule) => this.row(schedule)));
    if (!data.length) {
      this.body.append(h("tr", {}, h("td", { colspan: 6, class: "muted" },
        "No schedules yet. ", h("a", { href: "#/schedule" }, "Create one"),
        " from the start form.")));
    }
    this.loaded = true;
    $("#schedules-error").textContent = "";
  }

  // A schedule event: read that schedule again (its runs and their queues' statuses).
  async onEvent(event) {
    if (!this.loaded || !event.schedule_id) return;
    try {
      const { data } = await api.schedule(event.schedule_id);
      this.replace(data);
    } catch {
      this.load().catch(() => {}); // deleted meanwhile, or the store is down: read all
    }
  }

  replace(schedule) {
    const old = this.rows.get(schedule.id);
    const fresh = this.row(schedule);
    if (old) old.replaceWith(fresh);
    else this.load().catch((error) => this.onError(error, $("#schedules-error")));
  }

  row(schedule) {
    const row = h("tr", { "data-schedule-id": schedule.id },
      h("td", { "data-label": "Name" }, h("strong", {}, schedule.name),
        h("br"), h("span", { class: "muted" }, schedule.cron_text)),
      h("td", { "data-label": "When" }, h("code", {}, schedule.cron), ` · ${schedule.timezone}`,
        h("br"), h("span", { class: "muted" },
          `${schedule.concurrency} · catch-up ${schedule.catch_up}`)),
      h("td", { "data-label": "Next run", class: "next-run" },
        schedule.enabled ? dateTime(schedule.next_run_at) : "disabled"),
      h("td", { "data-label": "Last runs" }, runsList(schedule.runs.slice(0, SHOWN_RUNS))),
      h("td", { "data-label": "Enabled" }, this.toggle(schedule)),
      h("td", { "data-label": "Run" }, h("button", { type: "button", class: "run-now",
        "aria-label": `Run ${schedule.name} now`, onclick: () => this.runNow(schedule) },
      "Run now")));
    this.rows.set(schedule.id, row);
    return row;
  }

  toggle(schedule) {
    const label = schedule.enabled ? "Enabled" : "Disabled";
    return h("button", { type: "button", class: "toggle", "aria-pressed": String(schedule.enabled),
      "aria-label": `${schedule.name} enabled`, onclick: () => this.setEnabled(schedule) }, label);
  }

  async setEnabled(schedule) {
    try {
      const { data } = await api.changeSchedule(schedule.id, { enabled: !schedule.enabled });
      this.replace(data);
      this.rows.get(data.id)?.querySelector(".toggle")?.focus();
      $("#schedules-note").textContent = `${data.name} ${data.enabled ? "enabled" : "disabled"}.`;
    } catch (error) {
      this.onError(error, $("#schedules-error"),
        { action: "Changing a schedule", retry: () => this.setEnabled(schedule) });
    }
  }

  async runNow(schedule) {
    $("#schedules-error").textContent = "";
    try {
      const { data } = await api.runSchedule(schedule.id);
      $("#schedules-note").replaceChildren(`${schedule.name} started: `,
        h("a", { href: `#/queues/${encodeURIComponent(data.queue_id)}` },
          `queue ${shortId(data.queue_id)}`), ".");
      await this.onEvent({ schedule_id: schedule.id });
    } catch (error) {
      this.onError(error, $("#schedules-error"),
        { action: "Running a schedule", retry: () => this.runNow(schedule) });
      await this.onEvent({ schedule_id: schedule.id });
    }
  }
}

// Newest first: the slot, and the queue's status (a link) or why it did not run.
function runsList(runs) {
  if (!runs.length) return h("span", { class: "muted" }, "none yet");
  return h("ul", { class: "runs" }, runs.map((run) => {
    const when = `${run.manual ? "run now · " : ""}${dateTime(run.slot)}`;
    if (run.outcome === "triggered" && run.queue_id) {
      return h("li", { "data-outcome": run.outcome },
        h("a", { href: `#/queues/${encodeURIComponent(run.queue_id)}` }, when), " ",
        badge(run.status ?? "unknown"));
    }
    const note = run.missed ? `${run.missed} missed` : run.outcome;
    return h("li", { "data-outcome": run.outcome, title: run.reason ?? "" }, when, " ",
      h("span", { class: `badge outcome-${run.outcome}` }, note),
      run.reason ? h("span", { class: "reason" }, ` ${run.reason}`) : null);
  }));
}
