// The start form: queue fields, pipeline request rows, and 422 problems shown at their fields.
// In schedule mode (#/schedule) the same queue becomes a schedule's template: name, cron,
// time zone, policies, and a time range that may be relative (yesterday, …).

import { api } from "./api.js";
import { $, h } from "./dom.js";
import { CATALOG } from "./catalog.js";
import { dateTime } from "./format.js";

// Every field of every target, once: a request row shows those of its target.
const FIELDS = new Map(Object.values(CATALOG.targets).flatMap((spec) =>
  spec.fields.map((field) => [field.name, field])));

let nextRow = 0;

function field(id, label, control, hint) {
  control.id = id;
  const error = h("p", { class: "field-error", id: `${id}-error` });
  const described = [hint ? `${id}-hint` : null, error.id].filter(Boolean).join(" ");
  control.setAttribute("aria-describedby", described);
  return h("div", { class: "field", "data-for": id },
    h("label", { for: id }, label), control,
    hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null, error);
}

const select = (name, options, blank) =>
  h("select", { name }, blank ? h("option", { value: "" }, blank) : null,
    options.map((value) => h("option", { value }, value)));

export class StartForm {
  constructor(form, summary, onStarted, onError) {
    this.form = form;
    this.summary = summary;
    this.onStarted = onStarted;
    this.onError = onError;
    this.build();
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
  }

  build() {
    this.rows = h("div", { class: "request-rows" });
    const relative = select("relative", CATALOG.schedule.relative_ranges, "the dates below");
    this.relative = field("f-relative", "Relative to each run", relative,
      "Resolved for each run's date in the schedule's time zone");
    const range = h("fieldset", { class: "range", id: "f-range", "aria-describedby": "f-range-error" },
      h("legend", {}, "Time range"),
      this.relative,
      field("f-start", "From", h("input", { type: "date", name: "start", required: true })),
      field("f-end", "To", h("input", { type: "date", name: "end", required: true })),
      h("p", { class: "field-error", id: "f-range-error" }));
    this.scheduleFields = h("fieldset", { id: "f-schedule" }, h("legend", {}, "Schedule"),
      field("f-name", "Name", h("input", { name: "name", autocomplete: "off", maxlength: 64 }),
        "Unique; it names the queues it starts"),
      field("f-cron", "Cron", h("input", { name: "cron", autocomplete: "off", maxlength: 120 }),
        "minute hour day month weekday (5 0 * * *), or seconds first (*/30 * * * * *)"),
      field("f-timezone", "Time zone", h("input", { name: "timezone", autocomplete: "off",
        value: "UTC" }), "IANA name, like Europe/Berlin"),
      field("f-concurrency", "While a run is active", select("concurrency",
        CATALOG.schedule.concurrency)),
      field("f-catch_up", "Missed slots", select("catch_up", CATALOG.schedule.catch_up)));
    this.form.append(
      this.scheduleFields,
      h("fieldset", {}, h("legend", {}, "Data"),
        field("f-exchange", "Exchange", select("exchange", CATALOG.exchanges)),
        field("f-symbol", "Symbol(s)", h("input", { name: "symbol", required: true,
          autocapitalize: "characters", autocomplete: "off" }),
          "One ticker, or several separated by commas (BTCUSDT; SBER, GAZP)"),
        field("f-type", "Type", select("type", CATALOG.source_types, "(from the requests)")),
        range),
      h("fieldset", { id: "f-requests", "aria-describedby": "f-requests-error" },
        h("legend", {}, "Pipeline requests (optional: the type picks a default pipeline)"),
        this.rows,
        h("p", { class: "field-error", id: "f-requests-error" }),
        h("button", { type: "button", onclick: () => this.addRow(true) }, "Add request")),
      h("p", { class: "actions" }, h("button", { type: "submit", class: "primary", id: "f-submit" },
        "Start queue")),
      h("p", { id: "start-result", role: "status" }));
    this.form.querySelector("#f-catch_up").value = "last";
    this.setScheduling(false);
    // The job types a row suggests depend on the exchange.
    this.form.querySelector("#f-exchange").addEventListener("change", () => {
      for (const row of this.rows.children) this.showTargetFields(row);
    });
  }

  // Start once, or create a schedule from the same fields.
  setScheduling(on) {
    this.scheduling = on;
    this.scheduleFields.hidden = !on;
    this.relative.hidden = !on;
    this.form.querySelector("#f-submit").textContent = on ? "Create schedule" : "Start queue";
  }

  addRow(focus = false) {
    const n = nextRow++;
    const target = select("target", Object.keys(CATALOG.targets));
    const types = h("datalist", { id: `r${n}-types` });
    const type = h("input", { name: "type", list: types.id, required: true, autocomplete: "off" });
    const extras = [...FIELDS.values()].map(({ name, label, hint }) =>
      field(`r${n}-${name}`, label, h("input", { name, autocomplete: "off" }), hint));
    const row = h("fieldset", { class: "request", "data-row": n },
      h("legend", {}, "Request"),
      field(`r${n}-target`, "Target", target), field(`r${n}-type`, "Job type", type), types,
      extras, pipelineFields(n), h("p", { class: "field-error", id: `r${n}-error` }),
      h("button", { type: "button", class: "remove", onclick: () => this.removeRow(row) },
        "Remove request"));
    target.addEventListener("change", () => this.showTargetFields(row));
    this.rows.append(row);
    this.showTargetFields(row);
    this.renumber();
    if (focus) target.focus();
  }

  removeRow(row) {
    const index = [...this.rows.children].indexOf(row);
    row.remove();
    this.renumber();
    const next = this.rows.children[index] ?? this.rows.lastElementChild;
    (next?.querySelector("select") ?? this.form.querySelector("#f-requests button")).focus();
  }

  renumber() {
    [...this.rows.children].forEach((row, i) => {
      row.querySelector("legend").textContent = `Request ${i + 1} · index ${i}`;
      row.querySelector(".remove").setAttribute("aria-label", `Remove request ${i + 1}`);
    });
  }

  showTargetFields(row) {
    const spec = CATALOG.targets[row.querySelector("[name=target]").value];
    const shown = new Set(spec.fields.map((field) => field.name));
    for (const name of FIELDS.keys()) {
      row.querySelector(`[name=${name}]`).closest(".field").hidden = !shown.has(name);
    }
    const exchange = this.form.querySelector("#f-exchange").value;
    row.querySelector("datalist").replaceChildren(
      ...(spec.types[exchange] ?? []).map((value) => h("option", { value })));
  }

  body() {
    const value = (name) => this.form.querySelector(`#f-${name}`).value.trim();
    const tickers = value("symbol").toUpperCase().split(/[\s,]+/).filter(Boolean);
    const body = { exchange: value("exchange") };
    if (tickers.length === 1) body.symbol = tickers[0];
    if (tickers.length > 1) body.symbols = tickers;
    if (value("type")) body.type = value("type");
    if (value("start") || value("end")) body.time_range = `${value("start")}:${value("end")}`;
    if (this.scheduling && value("relative")) body.time_range = value("relative");
    const requests = [...this.rows.children].map(requestOf);
    if (requests.length) body.requests = requests;
    return body;
  }

  async submit() {
    this.clearProblems();
    $("#start-result").textContent = this.scheduling ? "Creating…" : "Starting…";
    try {
      if (this.scheduling) await this.createSchedule();
      else await this.startQueue();
    } catch (error) {
      $("#start-result").textContent = "";
      if (error.status === 422 && Array.isArray(error.data)) this.showProblems(error.data);
      else this.onError(error, $("#start-result"), { action: this.scheduling
        ? "Creating a schedule" : "Starting a queue", retry: () => this.submit() });
    }
  }

  async startQueue() {
    const { data, message } = await api.start(this.body());
    $("#start-result").replaceChildren(`${message}: `,
      h("a", { href: `#/queues/${encodeURIComponent(data.queue_id)}` }, `queue ${data.queue_id}`),
      ` (${data.status}).`);
    this.onStarted(data);
  }

  async createSchedule() {
    const value = (name) => this.form.querySelector(`#f-${name}`).value.trim();
    const body = { name: value("name"), cron: value("cron"), timezone: value("timezone") || "UTC",
      concurrency: value("concurrency"), catch_up: value("catch_up"), queue: this.body() };
    const { data, message } = await api.createSchedule(body);
    $("#start-result").replaceChildren(`${message}: `,
      h("a", { href: "#/schedules" }, data.name), `, next run ${dateTime(data.next_run_at)}.`);
  }

  clearProblems() {
    this.summary.hidden = true;
    this.summary.replaceChildren();
    for (const slot of this.form.querySelectorAll(".field-error")) slot.textContent = "";
    for (const bad of this.form.querySelectorAll("[aria-invalid]")) bad.removeAttribute("aria-invalid");
  }

  showProblems(problems) {
    const items = problems.map((problem) => this.placeProblem(problem));
    this.summary.replaceChildren(
      h("h3", {}, `${this.scheduling ? "The schedule was not created" : "The queue was not started"}: `
        + `${problems.length} problem${problems.length > 1 ? "s" : ""}`),
      h("ul", {}, items));
    this.summary.hidden = false;
    this.summary.focus();
  }

  placeProblem({ field: path, reason }) {
    const { slot, controls } = this.locate(path);
    if (slot) slot.textContent = slot.textContent ? `${slot.textContent}; ${reason}` : reason;
    for (const control of controls) control.setAttribute("aria-invalid", "true");
    const text = `${path}: ${reason}`;
    const first = controls[0];
    if (!first) return h("li", {}, text);
    return h("li", {}, h("a", { href: `#${first.id}`, onclick: (event) => {
      event.preventDefault();
      first.focus();
    } }, text));
  }

  // A 422 `field` path -> the error slot next to it and the controls it concerns.
  locate(fullPath) {
    const byId = (id) => this.form.querySelector(`#${id}`);
    const path = this.scheduling ? fullPath.replace(/^queue\./, "") : fullPath;
    if (path === "time_range") {
      const dates = [byId("f-start"), byId("f-end")];
      return { slot: byId("f-range-error"),
        controls: this.scheduling ? [byId("f-relative"), ...dates] : dates };
    }
    const top = { exchange: "f-exchange", symbol: "f-symbol", symbols: "f-symbol", type: "f-type" };
    if (this.scheduling && path === fullPath) {
      Object.assign(top, { name: "f-name", cron: "f-cron", timezone: "f-timezone",
        concurrency: "f-concurrency", catch_up: "f-catch_up" });
    }
    const name = path.split(/[.[]/)[0];
    if (top[name]) return { slot: byId(`${top[name]}-error`), controls: [byId(top[name])] };
    const match = path.match(/^requests\[(\d+)\](?:\.(\w+))?(?:\.(\w+))?/);
    const row = match && this.rows.children[Number(match[1])];
    if (!row) return path.startsWith("requests") ? { slot: byId("f-requests-error"), controls: [] }
      : { slot: null, controls: [] };
    const n = row.dataset.row;
    const id = [`r${n}-${match[2]}-${match[3]}`, `r${n}-${match[2]}`].find((one) => byId(one));
    const control = match[2] && id && byId(id);
    if (control) {
      control.closest("details")?.setAttribute("open", "");
      return { slot: byId(`${id}-error`), controls: [control] };
    }
    return { slot: byId(`r${n}-error`), controls: [row.querySelector("select")] };
  }
}

// Beside a target's own fields, every request may say which requests it runs after (their
// indexes, as the legends and the service's answers name them) and how it retries (folded
// away: empty means the target's default).
function pipelineFields(n) {
  const { depends_on: after, retry } = CATALOG.request;
  const defaults = retry.fields.map(({ label, default: value }) => `${label.toLowerCase()} ${value}`);
  return [
    field(`r${n}-depends_on`, "Runs after (request indexes)",
      h("input", { name: "depends_on", autocomplete: "off", inputmode: "numeric" }),
      `The index in a request's legend, like 0, 1 (at most ${after.max_items}); `
        + "empty: from the data names"),
    h("details", { class: "retry-fields" },
      h("summary", {}, "Retries (empty: the target's default)"),
      h("p", { class: "hint" }, `${retry.hint} All empty: the target's own policy (loaders `
        + "and the connector retry, the other targets do not, unless TARGETS_FILE says otherwise). "
        + `Once one field is set, a field left empty takes: ${defaults.join(", ")}.`),
      h("div", { class: "retry-grid" }, retry.fields.map(({ name, label, min, max, hint }) =>
        field(`r${n}-retry-${name}`, label,
          h("input", { type: "number", name: `retry-${name}`, min, max, step: "any" }), hint)))),
  ];
}

function pipelineOf(row) {
  const found = {};
  const after = row.querySelector("[name=depends_on]").value.trim();
  if (after) found.depends_on = after.split(/[\s,]+/).filter(Boolean).map(Number);
  const retry = {};
  for (const { name } of CATALOG.request.retry.fields) {
    const raw = row.querySelector(`[name=retry-${name}]`).value.trim();
    if (raw) retry[name] = Number(raw);
  }
  if (Object.keys(retry).length) found.retry = retry;
  return found;
}

function requestOf(row) {
  const request = {};
  const target = row.querySelector("[name=target]").value;
  request.target = target;
  request.type = row.querySelector("[name=type]").value.trim();
  for (const { name, kind } of CATALOG.targets[target].fields) {
    const raw = row.querySelector(`[name=${name}]`).value.trim();
    if (!raw) continue;
    request[name] = kind === "list" ? raw.split(/\s*,\s*/).filter(Boolean) : raw;
  }
  return { ...request, ...pipelineOf(row) };
}
