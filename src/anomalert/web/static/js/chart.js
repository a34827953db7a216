// The alert's chart in SVG: the baseline band (lower..upper) as a filled area, the expected
// value dashed, the actual values as a line, the alert start marked, change events as
// vertical markers (those before the window are pinned to its left edge with their time).

const NS = "http://www.w3.org/2000/svg";
const W = 760;
const H = 270;
const M = { left: 56, right: 16, top: 14, bottom: 28 };

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

const finite = (x) => typeof x === "number" && Number.isFinite(x);

/** Path data for a line through the finite points; gaps break the line. */
function linePath(times, ys, x, y) {
  let d = "";
  let pen = false;
  times.forEach((t, i) => {
    if (!finite(ys[i])) {
      pen = false;
      return;
    }
    d += `${pen ? "L" : "M"}${x(t).toFixed(1)},${y(ys[i]).toFixed(1)}`;
    pen = true;
  });
  return d;
}

/** Closed area between lower and upper, one polygon per run of finite points. */
function bandPath(times, lo, hi, x, y) {
  const runs = [];
  let run = [];
  times.forEach((t, i) => {
    if (finite(lo[i]) && finite(hi[i])) run.push(i);
    else if (run.length) {
      runs.push(run);
      run = [];
    }
  });
  if (run.length) runs.push(run);
  return runs
    .map((r) => {
      const top = r.map((i) => `${x(times[i]).toFixed(1)},${y(hi[i]).toFixed(1)}`);
      const bottom = r.reverse().map((i) => `${x(times[i]).toFixed(1)},${y(lo[i]).toFixed(1)}`);
      return `M${top.join("L")}L${bottom.join("L")}Z`;
    })
    .join("");
}

function hhmm(t) {
  return new Date(t * 1000).toISOString().slice(11, 16);
}

function niceTicks(lo, hi, n) {
  const step0 = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= step0) || step0;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(v);
  return out;
}

function fmt(v) {
  const a = Math.abs(v);
  if (a >= 1000) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1).replace(/\.0$/, "");
  if (a >= 1) return v.toFixed(2).replace(/\.?0+$/, "");
  return v.toPrecision(2);
}

/**
 * Draw into `box`. `context` is the alert's context (window: times, values, expected,
 * lower, upper); `start` the alert's start (unix s); `events` [{t, label, kind}].
 */
export function drawChart(box, context, start, events = []) {
  const w = context && context.window;
  if (!w || !w.times || w.times.length < 2) {
    box.replaceChildren(document.createTextNode("No values were kept for this alert (alerts from rules or other systems carry no chart)."));
    return;
  }
  const times = w.times;
  const series = [w.values, w.expected, w.lower, w.upper];
  if (finite(context.value)) series.push([context.value]);
  const all = series.flat().filter(finite);
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  if (hi === lo) {
    hi += 1;
    lo -= 1;
  }
  const pad = (hi - lo) * 0.08;
  lo -= pad;
  hi += pad;
  const t0 = times[0];
  const t1 = Math.max(times[times.length - 1], start || 0);
  const x = (t) => M.left + ((t - t0) / (t1 - t0)) * (W - M.left - M.right);
  const y = (v) => M.top + (1 - (v - lo) / (hi - lo)) * (H - M.top - M.bottom);

  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "chart-svg" });
  const grid = svg("g", { class: "grid" });
  for (const v of niceTicks(lo, hi, 4)) {
    grid.append(svg("line", { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v) }));
    grid.append(svg("text", { x: M.left - 6, y: y(v) + 4, "text-anchor": "end" }, fmt(v)));
  }
  const span = t1 - t0;
  for (let k = 0; k <= 4; k++) {
    const t = t0 + (span * k) / 4;
    grid.append(svg("text", { x: x(t), y: H - 8, "text-anchor": "middle" }, hhmm(t)));
  }
  root.append(grid);
  root.append(svg("path", { id: "band", class: "band", d: bandPath(times, w.lower, w.upper, x, y) }));
  root.append(svg("path", { class: "expected", d: linePath(times, w.expected, x, y) }));
  root.append(svg("path", { id: "actual", class: "actual", d: linePath(times, w.values, x, y) }));

  for (const ev of events.filter((e) => e.t <= t1)) {
    const inside = ev.t >= t0;
    const ex = inside ? x(Math.min(ev.t, t1)) : M.left;
    const g = svg("g", { class: `event-marker ${inside ? "" : "before"}` });
    g.append(svg("line", { x1: ex, x2: ex, y1: M.top, y2: H - M.bottom }));
    const right = ex > W * 0.65; // near the right edge the label goes on the line's left
    const label = inside ? ev.label : `\u25c2 ${ev.label}`;
    g.append(svg("text", { x: right ? ex - 4 : ex + 4, y: M.top + 12, "text-anchor": right ? "end" : "start" }, label));
    g.append(svg("title", {}, ev.title || ev.label));
    root.append(g);
  }

  if (start) {
    const sx = x(Math.max(t0, Math.min(start, t1)));
    const marker = svg("g", { id: "spike-marker", class: "spike-marker" });
    marker.append(svg("line", { x1: sx, x2: sx, y1: M.top, y2: H - M.bottom }));
    if (finite(context.value)) {
      marker.append(svg("circle", { cx: sx, cy: y(context.value), r: 5 }));
    }
    marker.append(svg("text", { x: sx - 4, y: H - M.bottom - 6, "text-anchor": "end" }, `alert ${hhmm(start)}`));
    root.append(marker);
  }
  box.replaceChildren(root);
}
