// Entry point: routes (#/, #/start, #/queues/<id>, #/schedules, #/schedule, #/coverage), the
// live feed, the token form, the clock.

import { ApiError, AuthRequired, api, token } from "./api.js";
import { CATALOG } from "./catalog.js";
import { CoverageView } from "./coverage.js";
import { QueueDetail } from "./detail.js";
import { $, h, show } from "./dom.js";
import { StartForm } from "./form.js";
import { QueueList } from "./list.js";
import { LiveFeed } from "./live.js";
import { ScheduleList } from "./schedules.js";
import { QueueStore } from "./store.js";

const LIST_LIMIT = 100;
const store = new QueueStore();
const list = new QueueList($("#queues"), $("#list-count"), store);
const detail = new QueueDetail(store, report);
const form = new StartForm($("#start-form"), $("#start-summary"), () => {}, report);
const schedules = new ScheduleList($("#schedules"), report);
const coverage = new CoverageView(report);
const feed = new LiveFeed({ onEvent: receive, onState: showLiveState, onReconnected: reload,
  serviceAnswers });
let listLoaded = false;
let routed = false;
let retryTimer = null;
const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 15000;
let retryDelay = FIRST_RETRY_MS;
let pending = null;
let afterToken = null; // the action a 401 interrupted
let backTo = null; // the element focused when the token was asked for

// A 401 asks for a token; `retry` (the refused action) runs again once one is entered.
function report(error, slot, { action = "This", retry = null } = {}) {
  if (error instanceof AuthRequired) {
    askForToken({ reason: `${action} needs an API token.`, refused: error.sentToken, retry });
  } else slot.textContent = error.message;
}

function askForToken({ reason, refused = false, retry = null }) {
  if (refused) token.clear(); // a refused token is not sent again
  if (retry) afterToken = retry;
  if ($("#token-view").hidden) {
    const active = document.activeElement;
    backTo = active && active !== document.body ? active : null;
  }
  $("#token-reason").textContent = reason;
  $("#token-error").textContent = refused
    ? "That token was refused. Check it and enter it again." : "";
  show($("#token-view"));
  $("#token-input").focus();
}

// Back to the view the token was asked from, focus where it was.
async function leaveTokenView() {
  await route();
  if (backTo?.isConnected && !backTo.closest("[hidden]")) backTo.focus();
}

async function loadList() {
  list.loading();
  const params = { limit: LIST_LIMIT, ...Object.fromEntries(
    Object.entries(list.filter).filter(([, value]) => value)) };
  const { data, headers } = await api.list(params);
  data.forEach((queue) => store.put(queue));
  list.replace(data.map((queue) => store.get(queue.id)), Number(headers.get("X-Total-Count")));
  listLoaded = true;
  $("#list-error").textContent = "";
}

// `again`: a retry of the same view after a failed load (focus stays where it is). The first
// route of the page leaves focus alone too; later ones move it to the view's heading.
async function route({ again = false } = {}) {
  clearTimeout(retryTimer);
  const focus = routed && !again;
  routed = true;
  const hash = location.hash || "#/";
  if (!hash.startsWith("#/")) return;
  const [, view, id] = hash.split("/");
  const slot = view === "queues" ? $("#queue-error")
    : view === "schedules" ? $("#schedules-error")
      : view === "coverage" ? $("#coverage-error") : $("#list-error");
  try {
    if (view === "queues" && id) {
      show($("#queue-view"));
      await detail.open(decodeURIComponent(id), { focus });
    } else if (view === "start" || view === "schedule") {
      form.setScheduling(view === "schedule");
      $("#start-title").textContent = view === "schedule" ? "Create a schedule" : "Start a queue";
      show($("#start-view"));
    } else if (view === "schedules") {
      show($("#schedules-view"));
      await schedules.load();
      if (focus) $("#schedules-title").focus();
    } else if (view === "coverage") {
      show($("#coverage-view"));
      await coverage.load();
      if (focus) $("#coverage-title").focus();
    } else {
      show($("#list-view"));
      if (!listLoaded) await loadList();
    }
    retryDelay = FIRST_RETRY_MS;
  } catch (error) {
    report(error, slot);
    if (worthRetrying(error)) retryLater(slot);
  }
}

// A load that failed for a reason that may pass (no answer, 5xx) is tried again by itself,
// so the page never stays empty until a reload.
function worthRetrying(error) {
  if (error instanceof AuthRequired) return false;
  return !(error instanceof ApiError) || error.status === 0 || error.status >= 500;
}

function retryLater(slot) {
  slot.textContent = `${slot.textContent} Trying again in ${Math.round(retryDelay / 1000)} s…`;
  retryTimer = setTimeout(() => route({ again: true }), retryDelay);
  retryDelay = Math.min(MAX_RETRY_MS, retryDelay * 2);
}

function receive(event) {
  if (String(event.event).startsWith("schedule.")) schedules.onEvent(event);
  else if (event.event === "coverage.updated") coverage.onEvent(event);
  else if (event.data && event.queue_id) apply(event.data);
  else if (event.event === "job.telemetry") applyTelemetry(event);
  else if (event.event === "missed") refetch(event.queue_ids ?? []);
}

function apply(queue) {
  if (!store.put(queue)) return;
  list.update(store.get(queue.id));
  detail.update(store.get(queue.id));
}

function applyTelemetry(event) {
  const job = store.get(event.queue_id)?.jobs.find((j) => j.name === event.job);
  if (!job || event.seq <= job.seq) return;
  Object.assign(job, { status: event.status, records_written: event.records_written,
    last_loaded_timestamp: event.last_loaded_timestamp, error_message: event.error_message,
    seq: event.seq, health: healthOf(event), ...gapsOf(event),
    rest_weight: event.rest_weight ?? job.rest_weight });
  detail.update(store.get(event.queue_id));
}

// Gap counters come only from stream jobs; a report without them leaves the job's as they are.
function gapsOf(event) {
  if (event.gaps_detected === null || event.gaps_detected === undefined) return {};
  const { gaps_detected, gaps_open, records_backfilled, gaps } = event;
  return { gaps_detected, gaps_open, records_backfilled, gaps };
}

// A job's own report: `retry` while it retries, else it is heard from, so not stalled.
function healthOf(event) {
  if (!event.retry) return { state: "ok" };
  const { attempt, max_attempts, last_error, retry_at } = event.retry;
  return { state: "retrying", attempt, max_attempts, last_error, retry_at, reason: last_error };
}

async function refetch(ids) {
  if (!ids.length || ids.length > 20) return reload();
  const results = await Promise.allSettled(ids.map((id) => api.get(id)));
  for (const result of results) if (result.status === "fulfilled") apply(result.value.data);
}

// After a reconnect, events may have been lost: read the current state again.
async function reload() {
  clearTimeout(pending);
  pending = setTimeout(async () => {
    try {
      if (listLoaded) await loadList();
      if (detail.id && !$("#queue-view").hidden) await detail.open(detail.id);
      if (!$("#schedules-view").hidden) await schedules.load();
      if (!$("#coverage-view").hidden) await coverage.load();
    } catch (error) {
      report(error, $("#list-error"));
    }
  }, 100);
}

// The socket could not open: if HTTP answers, the handshake was refused (a token is needed).
async function serviceAnswers() {
  try {
    await fetch("/health/live", { cache: "no-store" });
    return true;
  } catch {
    return false;
  }
}

function showLiveState(state, { attempt, delay, withToken }) {
  const line = $("#live");
  line.className = `live ${state}`;
  $("#token-button").hidden = state !== "refused";
  if (state === "refused") {
    line.textContent = "live updates need a token";
    if (withToken) askForToken({ reason: "Live updates need an API token.", refused: true });
    return;
  }
  line.textContent = state === "reconnecting" && delay
    ? `reconnecting… (attempt ${attempt}, next try in ${(delay / 1000).toFixed(1)} s)`
    : state === "live" ? "live" : `${state}…`;
}

$("#filters").addEventListener("submit", (event) => {
  event.preventDefault();
  list.filter = { status: $("#filter-status").value,
    symbol: $("#filter-symbol").value.trim().toUpperCase() };
  loadList().catch((error) => report(error, $("#list-error")));
});
$("#filter-status").addEventListener("change", () => $("#filters").requestSubmit());

$("#token-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const value = $("#token-input").value.trim();
  if (!value) {
    $("#token-error").textContent = "Enter a token first.";
    $("#token-input").focus();
    return;
  }
  token.set(value);
  $("#token-input").value = "";
  $("#token-error").textContent = "";
  listLoaded = false;
  feed.restart();
  const retry = afterToken;
  afterToken = null;
  await leaveTokenView();
  retry?.();
});
$("#token-cancel").addEventListener("click", () => {
  afterToken = null;
  leaveTokenView();
});
$("#token-button").addEventListener("click", () =>
  askForToken({ reason: "Live updates need an API token." }));

$("#filter-status").append(...CATALOG.statuses.map((status) => h("option", {}, status)));
coverage.setup();
setInterval(() => {
  list.tickAll();
  detail.tick();
}, 1000);
window.addEventListener("hashchange", route);
feed.connect();
route();
