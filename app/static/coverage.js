// The coverage page: per series (exchange, symbol, data type) a strip of days coloured by
// state, a day's details when selected, "Fill missing" for the filter shown (with a
// preview) and the queues it started. Live: `coverage.updated` reloads the map, at most
// once a second.

import { api } from "./api.js";
import { CATALOG } from "./catalog.js";
import { $, h } from "./dom.js";
import { count, dateTime, shortId } from "./format.js";

const RELOAD_AFTER_MS = 1000;
const STATE_WORDS = {
  complete: "complete", partial: "partial", missing: "missing", failed: "failed",
};

export class CoverageView {
  constructor(onError) {
    this.onError = onError;
    this.filter = {};
    this.loaded = false;
    this.reloading = null;
    this.series = [];
    this.selected = null; // "<series index>/<day>"
    this.asked = 0; // loads asked for: an answer to an older one is dropped
  }

  setup() {
    $("#c-exchange").append(...CATALOG.coverage.exchanges.map((e) => h("option", { value: e }, e)));
    $("#c-type").append(...CATALOG.coverage.data_types.map((t) => h("option", { value: t }, t)));
    $("#coverage-legend").append(...CATALOG.coverage.states.map((state) =>
      h("li", {}, h("span", { class: `day state-${state}`, "aria-hidden": "true" }), ` ${state}`)));
    $("#coverage-filters").addEventListener("submit", (event) => {
      event.preventDefault();
      this.filter = this.readFilter();
      this.load().catch((error) => this.onError(error, $("#coverage-error")));
    });
    $("#fill-preview").addEventListener("click", () => this.fill(true));
    $("#fill-missing").addEventListener("click", () => this.fill(false));
  }

  readFilter() {
    const form = new FormData($("#coverage-filters"));
    const entries = [...form.entries()].map(([key, value]) => [key, String(value).trim()]);
    const filter = Object.fromEntries(entries.filter(([, value]) => value));
    if (filter.symbol) filter.symbol = filter.symbol.toUpperCase();
    return filter;
  }

  async load() {
    const asked = ++this.asked;
    const { data, message } = await api.coverage(this.filter);
    if (asked !== this.asked) return; // a newer load (another filter) answers instead
    this.clearProblems();
    this.series = data.series;
    $("#coverage-note").textContent = `${message} (${data.start} to ${data.end}).`;
    const strips = data.series.map((series, index) => this.strip(series, index));
    $("#coverage-series").replaceChildren(...(strips.length ? strips : [h("p", { class: "muted" },
      "No coverage yet for this filter. Name an exchange, a symbol and a type to see a " +
      "series that was never loaded.")]));
    this.loaded = true;
    this.showSelected();
  }

  // A `coverage.updated` event: read the map again, at most once a second.
  onEvent() {
    if (!this.loaded || $("#coverage-view").hidden || this.reloading) return;
    this.reloading = setTimeout(() => {
      this.reloading = null;
      this.load().catch((error) => this.onError(error, $("#coverage-error")));
    }, RELOAD_AFTER_MS);
  }

  strip(series, index) {
    const name = `${series.symbol} · ${series.type} · ${series.exchange}`;
    const summary = CATALOG.coverage.states.filter((s) => series.summary[s])
      .map((s) => `${series.summary[s]} ${s}`).join(", ");
    const days = series.days.map((day) => h("button", {
      type: "button",
      class: `day state-${day.state}${day.loading.length ? " loading" : ""}`,
      "data-day": day.day,
      "aria-current": this.selected === `${index}/${day.day}` ? "true" : null,
      "aria-label": dayLabel(day),
      title: dayLabel(day),
      onclick: () => this.select(index, day.day),
    }));
    return h("section", { class: "series", "data-series": name, "aria-label": name },
      h("h3", {}, name, " ", h("span", { class: "muted series-summary" }, summary)),
      h("div", { class: "strip", role: "group", "aria-label": `${name}: days` }, days),
      h("p", { class: "strip-axis muted", "aria-hidden": "true" },
        h("span", {}, series.days[0]?.day ?? ""), h("span", {}, series.days.at(-1)?.day ?? "")));
  }

  select(index, day) {
    this.selected = `${index}/${day}`;
    for (const cell of document.querySelectorAll("#coverage-series .day[aria-current]")) {
      cell.removeAttribute("aria-current");
    }
    document.querySelectorAll("#coverage-series .series")[index]
      ?.querySelector(`.day[data-day="${day}"]`)?.setAttribute("aria-current", "true");
    this.showSelected({ focus: true });
  }

  showSelected({ focus = false } = {}) {
    const panel = $("#coverage-day");
    const [index, day] = (this.selected ?? "").split("/");
    const series = this.series[Number(index)];
    const found = series?.days.find((d) => d.day === day);
    panel.hidden = !found;
    if (!found) return;
    panel.replaceChildren(...dayDetails(series, found).filter(Boolean));
    if (focus) panel.focus();
  }

  async fill(dryRun) {
    $("#coverage-error").textContent = "";
    this.filter = this.readFilter();
    try {
      const { data, message } = await api.fill(this.filter, dryRun);
      this.clearProblems();
      this.showFill(data, message);
      if (!dryRun) await this.load();
    } catch (error) {
      this.markProblems(error);
      this.onError(error, $("#coverage-error"),
        { action: "Filling missing days", retry: () => this.fill(dryRun) });
    }
  }

  showFill(answer, message) {
    const box = $("#fill-result");
    const items = answer.queues.map((queue) => h("li", { "data-status": queue.status },
      h("a", { href: `#/queues/${encodeURIComponent(queue.queue_id)}` },
        `queue ${shortId(queue.queue_id)}`),
      ` ${queue.symbol} ${queue.type} ${queue.start} → ${queue.end} (${queue.days} days): `,
      h("strong", {}, queue.status.replace("_", " "))));
    const skipped = answer.skipped.map((skip) => h("li", { "data-status": "skipped" },
      `${skip.symbol} ${skip.type} ${skip.start} → ${skip.end}: ${skip.reason}`));
    box.replaceChildren(h("p", {}, message), h("ul", { class: "fill-queues" }, items, skipped));
    box.hidden = false;
  }

  markProblems(error) {
    for (const problem of Array.isArray(error?.data) ? error.data : []) {
      const input = $(`#coverage-filters [name="${problem.field}"]`);
      input?.setAttribute("aria-invalid", "true");
    }
  }

  clearProblems() {
    for (const input of document.querySelectorAll("#coverage-filters [aria-invalid]")) {
      input.removeAttribute("aria-invalid");
    }
    $("#coverage-error").textContent = "";
  }
}

export function dayLabel(day) {
  const parts = [`${day.day}: ${STATE_WORDS[day.state] ?? day.state}`];
  if (day.count) parts.push(`${count(day.count)} records`);
  if (day.missing.length) {
    parts.push(`missing ${day.missing.map((m) => `${clock(m.start)}–${clock(m.end)}`).join(", ")}`);
  }
  if (day.loading.length) parts.push("loading now");
  return parts.join("; ");
}

const clock = (iso) => String(iso).slice(11, 16);

function dayDetails(series, day) {
  const facts = [
    ["State", STATE_WORDS[day.state] ?? day.state],
    ["Records", count(day.count)],
    ["First", dateTime(day.first)],
    ["Last", dateTime(day.last)],
    ["Collections", day.collections.join(", ") || "—"],
  ];
  if (day.reason) facts.push(["Why", day.reason]);
  const loading = day.loading.map((id) => h("li", {},
    h("a", { href: `#/queues/${encodeURIComponent(id)}` }, `queue ${shortId(id)}`)));
  const missing = day.missing.map((span) => h("li", {},
    `${dateTime(span.start)} to ${dateTime(span.end)}`,
    span.first !== null || span.last !== null
      ? ` (${series.key} ${span.first ?? "?"} … ${span.last ?? "?"})` : ""));
  return [
    h("h3", {}, `${series.symbol} ${series.type} · ${day.day}`),
    h("dl", { class: "facts" }, facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    missing.length ? h("h4", {}, "Missing") : null,
    missing.length ? h("ul", { class: "missing" }, missing) : null,
    loading.length ? h("h4", {}, "Loading now") : null,
    loading.length ? h("ul", {}, loading) : null,
  ];
}
