// Records over time as a hand-drawn SVG line (no library).

import { svg as el } from "./dom.js";
import { count, dateTime } from "./format.js";

const WIDTH = 600;
const HEIGHT = 160;
const PAD = { left: 56, right: 12, top: 12, bottom: 24 };

export function drawChart(container, points) {
  const svg = el("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", class: "chart-svg" });
  const last = points.at(-1);
  const label = last
    ? `Records over time: ${points.length} updates, latest ${count(last.records)}`
    : "Records over time: no updates yet";
  svg.append(el("title", {}, label));
  svg.setAttribute("aria-label", label);
  if (points.length) draw(svg, points);
  else svg.append(el("text", { x: WIDTH / 2, y: HEIGHT / 2, "text-anchor": "middle" }, "no data yet"));
  container.replaceChildren(svg);
}

function draw(svg, points) {
  const t0 = points[0].at;
  const t1 = Math.max(points.at(-1).at, t0 + 1000);
  const top = Math.max(1, ...points.map((p) => p.records));
  const x = (t) => PAD.left + ((t - t0) / (t1 - t0)) * (WIDTH - PAD.left - PAD.right);
  const y = (r) => HEIGHT - PAD.bottom - (r / top) * (HEIGHT - PAD.top - PAD.bottom);
  const base = HEIGHT - PAD.bottom;
  svg.append(
    el("line", { x1: PAD.left, y1: base, x2: WIDTH - PAD.right, y2: base, class: "axis" }),
    el("line", { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: base, class: "axis" }),
    el("text", { x: PAD.left - 6, y: PAD.top + 4, "text-anchor": "end" }, count(top)),
    el("text", { x: PAD.left - 6, y: base, "text-anchor": "end" }, "0"),
    el("text", { x: PAD.left, y: HEIGHT - 6 }, dateTime(t0)),
    el("text", { x: WIDTH - PAD.right, y: HEIGHT - 6, "text-anchor": "end" }, dateTime(t1)),
  );
  const line = points.map((p) => `${x(p.at).toFixed(1)},${y(p.records).toFixed(1)}`).join(" ");
  svg.append(el("polyline", { points: line, class: "series" }));
  for (const p of points.slice(-1)) svg.append(el("circle", { cx: x(p.at), cy: y(p.records), r: 3 }));
}
