// A queue's pipeline as a graph: one box per job, in columns by dependency depth (a job's
// column is 1 + the deepest of its upstreams'), rows within a column, arrows from
// `depends_on`. `layout` and the texts are pure (node tests); `PipelineGraph` draws them,
// boxes updated in place so an opened attempts list stays open through live updates.

import { CATALOG } from "./catalog.js";
import { h, svg } from "./dom.js";
import { dateTime, isTerminal } from "./format.js";
import { badge, healthBadge } from "./list.js";

// {nodes: [{name, job, column, row}] in job order, edges: [{from, to}], columns, rows}.
// Upstreams that are not jobs of the queue are external (no edge); a cycle (the service
// refuses them) is cut where it closes, so every edge runs left to right.
export function layout(jobs = []) {
  const known = new Map(jobs.map((job) => [job.name, job]));
  const ups = (job) => [...new Set(job.depends_on ?? [])].filter((n) => n !== job.name && known.has(n));
  const column = new Map();
  const open = new Set();
  const depth = (name) => {
    if (column.has(name)) return column.get(name);
    if (open.has(name)) return -1;
    open.add(name);
    const deepest = Math.max(-1, ...ups(known.get(name)).map(depth));
    open.delete(name);
    column.set(name, deepest + 1);
    return deepest + 1;
  };
  jobs.forEach((job) => depth(job.name));
  const edges = jobs.flatMap((job) => ups(job).map((from) => ({ from, to: job.name })))
    .filter(({ from, to }) => column.get(from) < column.get(to));
  const row = placeRows(jobs, column, edges);
  const nodes = jobs.map((job) => ({ name: job.name, job, column: column.get(job.name),
    row: row.get(job.name) }));
  return { nodes, edges, columns: Math.max(0, ...column.values()) + (jobs.length ? 1 : 0),
    rows: Math.max(0, ...[...row.values()].map((r) => r + 1)) };
}

// Rows 0, 1, … in each column, column by column: a job sits near its upstreams (the mean of
// their rows), ties in the queue's own order, so arrows cross as little as they can.
function placeRows(jobs, column, edges) {
  const row = new Map();
  const order = new Map(jobs.map((job, index) => [job.name, index]));
  const last = Math.max(-1, ...column.values());
  for (let c = 0; c <= last; c += 1) {
    const here = jobs.filter((job) => column.get(job.name) === c).map((job) => job.name);
    const pull = (name) => mean(edges.filter((e) => e.to === name).map((e) => row.get(e.from)));
    here.sort((a, b) => (pull(a) - pull(b)) || (order.get(a) - order.get(b)));
    here.forEach((name, index) => row.set(name, index));
  }
  return row;
}

const mean = (values) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0);

// `connector · api_trades`: the target's short name and the job's type.
export const stepName = (job) => `${CATALOG.targets[job.target]?.short ?? job.target} · ${job.type}`;

// The upstreams of a job by their step names (a name the queue does not hold, as it came).
export function upstreamNames(job, jobs) {
  const byName = new Map(jobs.map((other) => [other.name, other]));
  return (job.depends_on ?? []).map((name) => (byName.has(name) ? stepName(byName.get(name)) : name));
}

// How many attempts a job may have: while it retries its health says; else its request's
// retry policy (1 + limit); null when neither tells.
export function maxAttempts(job) {
  if (job.health?.state === "retrying" && job.health.max_attempts) return job.health.max_attempts;
  const limit = job.request?.retry?.limit;
  return Number.isInteger(limit) ? limit + 1 : null;
}

// `attempt 2 of 4` once a job runs again or waits to: a pending job that ran before waits
// for its next attempt, as its waiting reason says (null for a first attempt going well).
export function attemptText(job) {
  const ran = Math.max(job.attempt ?? 0, job.attempts?.length ?? 0);
  const attempt = job.status === "pending" && ran ? ran + 1 : Math.max(ran, 1);
  if (attempt < 2) return null;
  const most = maxAttempts(job);
  return `attempt ${attempt}${most ? ` of ${most}` : ""}`;
}

// Why a box looks as it does, beyond its badge: the waiting reason, or how it ended badly.
export function reasonOf(job) {
  if (job.waiting_for && !isTerminal(job.status)) return { kind: "waiting", text: job.waiting_for };
  if (["error", "skipped"].includes(job.status) && job.error_message) {
    return { kind: job.status, text: job.error_message };
  }
  return null;
}

const ARROW = "graph-arrowhead";

export class PipelineGraph {
  constructor(root) {
    this.boxes = new Map();
    this.edges = [];
    this.list = h("ol", { class: "graph-grid", "aria-label": "Pipeline steps" });
    this.arrows = svg("svg", { class: "graph-arrows", "aria-hidden": "true" });
    root.replaceChildren(h("div", { class: "graph-canvas" }, this.arrows, this.list));
    new ResizeObserver(() => this.drawArrows()).observe(this.list);
  }

  clear() {
    this.boxes.clear();
    this.list.replaceChildren();
    this.arrows.replaceChildren();
  }

  render(jobs = []) {
    const plan = layout(jobs);
    const placed = [...plan.nodes].sort((a, b) => (a.column - b.column) || (a.row - b.row));
    placed.forEach((node, index) => this.place(node, index, jobs));
    for (const [name, box] of this.boxes) {
      if (!plan.nodes.some((node) => node.name === name)) this.drop(name, box);
    }
    this.edges = plan.edges;
    this.drawArrows();
  }

  place(node, index, jobs) {
    let box = this.boxes.get(node.name);
    if (!box) {
      box = stepBox(node.name);
      this.boxes.set(node.name, box);
    }
    const there = this.list.children[index] ?? null;
    if (there !== box) this.list.insertBefore(box, there);
    box.style.gridColumn = String(node.column + 1);
    box.style.gridRow = String(node.row + 1);
    fillBox(box, node.job, jobs);
  }

  drop(name, box) {
    box.remove();
    this.boxes.delete(name);
  }

  // Arrows from the right edge of an upstream's box to the left edge of its dependent's,
  // measured from the boxes as laid out (their heights follow their text).
  drawArrows() {
    const width = this.list.scrollWidth;
    const height = this.list.scrollHeight;
    this.arrows.setAttribute("width", String(width));
    this.arrows.setAttribute("height", String(height));
    this.arrows.setAttribute("viewBox", `0 0 ${width} ${height}`);
    const paths = this.edges.map((edge) => this.arrow(edge)).filter(Boolean);
    this.arrows.replaceChildren(arrowhead(), ...paths);
  }

  arrow({ from, to }) {
    const [a, b] = [this.boxes.get(from), this.boxes.get(to)];
    if (!a || !b) return null;
    const x1 = a.offsetLeft + a.offsetWidth;
    const y1 = a.offsetTop + a.offsetHeight / 2;
    const x2 = b.offsetLeft - 2;
    const y2 = b.offsetTop + b.offsetHeight / 2;
    const bend = Math.max(16, (x2 - x1) / 2);
    return svg("path", { class: `graph-edge from-${a.dataset.status}`, "data-from": from,
      "data-to": to, d: `M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}`,
      "marker-end": `url(#${ARROW})` });
  }
}

function arrowhead() {
  return svg("defs", {}, svg("marker", { id: ARROW, viewBox: "0 0 10 10", refX: "9", refY: "5",
    markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" },
  svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "graph-arrowhead" })));
}

// A box keeps its attempts list (a <details>) across refills: opened stays opened.
function stepBox(name) {
  const box = h("li", { class: "step", "data-job": name });
  box.parts = { title: h("div", { class: "step-title" }), state: h("div", { class: "step-state" }),
    needs: h("p", { class: "step-needs" }), reason: h("p", { class: "step-reason" }),
    attempts: h("details", { class: "step-attempts" }, h("summary"), h("div")) };
  box.append(...Object.values(box.parts));
  return box;
}

function fillBox(box, job, jobs) {
  const { title, state, needs, reason, attempts } = box.parts;
  box.dataset.status = job.status;
  box.dataset.health = job.health?.state ?? "ok";
  box.className = `step status-${job.status} health-${box.dataset.health}`;
  title.textContent = stepName(job);
  state.replaceChildren(badge(job.status), " ",
    healthBadge(job.health, { brief: Boolean(job.waiting_for) }) ?? "");
  const upstreams = upstreamNames(job, jobs);
  needs.textContent = upstreams.length ? `after ${upstreams.join(", ")}` : "";
  needs.hidden = !upstreams.length;
  const why = reasonOf(job);
  reason.textContent = why?.text ?? "";
  reason.className = `step-reason ${why?.kind ?? ""}`;
  reason.hidden = !why;
  fillAttempts(attempts, job);
}

function fillAttempts(details, job) {
  const list = job.attempts ?? [];
  details.hidden = !list.length;
  if (!list.length) return;
  const [summary, body] = details.children;
  summary.textContent = attemptText(job) ?? `attempt ${list.length}`;
  body.replaceChildren(h("ol", { class: "attempts" }, list.map(attemptItem)));
}

// `#1 error`, when it ran (UTC) and, if it failed, why.
function attemptItem(attempt) {
  return h("li", { "data-attempt": attempt.attempt },
    h("span", {}, `#${attempt.attempt} `), badge(attempt.status),
    h("div", { class: "muted" }, `${dateTime(attempt.started_at)} → ${dateTime(attempt.finished_at)}`),
    attempt.error_message ? h("div", { class: "error" }, attempt.error_message) : null);
}
