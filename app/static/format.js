// Formatting: one date/time form everywhere, ages, freshness, numbers, and the short
// descriptions that tell queue rows apart (time range, pipeline, id).

import { CATALOG } from "./catalog.js";

const MISSING = "—";

// Every moment on the page reads the same way, in UTC like the data:
// `2026-12-02 07:10:34 UTC`. Anything unparseable is shown as it came.
export function dateTime(value) {
  if (value === null || value === undefined || value === "") return MISSING;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

export function ageSeconds(iso, now = Date.now()) {
  const then = Date.parse(iso);
  return Number.isNaN(then) ? null : Math.max(0, (now - then) / 1000);
}

export function ageText(seconds) {
  if (seconds === null) return MISSING;
  if (seconds < 60) return `${Math.floor(seconds)} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

// Under 5 s fresh (green), under 30 s aging (yellow), older stale (red) (seed 000).
export function freshness(seconds) {
  if (seconds === null) return "stale";
  if (seconds < 5) return "fresh";
  return seconds < 30 ? "aging" : "stale";
}

export const isTerminal = (status) => CATALOG.terminal_statuses.includes(status);

// The colour of an update's age, for a queue that still runs; an ended queue's last update
// is history, not a warning: "ended".
export const freshnessOf = (status, seconds) =>
  isTerminal(status) ? "ended" : freshness(seconds);

export const count = (n) => (n ?? 0).toLocaleString("en-US");

// "3 gaps, 1 open, 1,234 backfilled", or null for a job or queue that found none.
export function gapsText(item) {
  if (!item?.gaps_detected) return null;
  return `${count(item.gaps_detected)} gaps, ${count(item.gaps_open)} open, ` +
    `${count(item.records_backfilled)} backfilled`;
}

export function rate(perSecond) {
  if (perSecond === null || perSecond === undefined) return MISSING;
  return perSecond >= 100 ? Math.round(perSecond).toLocaleString("en-US") : perSecond.toFixed(1);
}

export function symbols(queue) {
  const all = queue.symbols?.length ? queue.symbols : [queue.symbol];
  return all.length > 3 ? `${all.slice(0, 3).join(", ")} +${all.length - 3}` : all.join(", ");
}

// `2024-06-01 → 2024-06-30`; one day is one date.
export function timeRange(range) {
  const [start, end] = String(range ?? "").split(":");
  if (!end) return range || MISSING;
  return start === end ? start : `${start} → ${end}`;
}

// The first block of a queue id: enough to tell rows apart, the full id is one click away.
export const shortId = (id) => String(id ?? "").split("-")[0];

// `api_candles_5m: loader → connector`: the loaders' types, then each target once, in order
// (`×2` when several jobs share it).
export function pipeline(jobs = []) {
  const loads = jobs.filter((job) => job.target === CATALOG.loader_target).map((job) => job.type);
  const types = loads.length ? loads : [...new Set(jobs.map((job) => job.type))];
  const counts = new Map();
  for (const job of jobs) counts.set(job.target, (counts.get(job.target) ?? 0) + 1);
  const steps = [...counts].map(([target, n]) =>
    `${CATALOG.targets[target]?.short ?? target}${n > 1 ? ` ×${n}` : ""}`);
  const shown = types.length > 2 ? `${types.slice(0, 2).join(", ")} +${types.length - 2}`
    : types.join(", ");
  return steps.length ? `${shown}: ${steps.join(" → ")}` : MISSING;
}

// `REST weight 812/2,400 a min · 2 loaders`: a Binance loader's weight sent in the last
// window against its share of the budget; `· waiting until …` while it waits out a 429/418
// (or the whole budget used by the IP).
export function restWeight(weight) {
  if (!weight) return "";
  const seconds = weight.window_seconds ?? 60;
  const per = seconds === 60 ? "a min" : `per ${seconds} s`;
  const loaders = `${weight.loaders} loader${weight.loaders === 1 ? "" : "s"}`;
  const text = `REST weight ${count(weight.used)}/${count(weight.share)} ${per} · ${loaders}`;
  return weight.waiting_until ? `${text} · waiting until ${dateTime(weight.waiting_until)}` : text;
}

// `2 waiting · 1 skipped`: the jobs of a queue that wait (for an input, a slot or a retry)
// and those skipped, or "" when none do.
export function waitingNote(jobs = []) {
  const waiting = jobs.filter((job) => job.waiting_for && !isTerminal(job.status)).length;
  const skipped = jobs.filter((job) => job.status === "skipped").length;
  return [waiting ? `${waiting} waiting` : "", skipped ? `${skipped} skipped` : ""]
    .filter(Boolean).join(" · ");
}
