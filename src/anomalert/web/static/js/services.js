// Services: mode and its admin switch, per-metric threshold and why, volume, precision.
import { act, api, badge, el, flash, score, when, link } from "./common.js";

const root = document.getElementById("services");
const only = root.dataset.service;
const MODES = ["shadow", "assistive", "alerting"];
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const n = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  if (text !== undefined) n.textContent = text;
  return n;
}

/** Alerts per day as small bars (with the day and count as a tooltip). */
function volumeChart(volume) {
  const W = 460;
  const H = 70;
  const max = Math.max(1, ...volume.map((v) => v.count));
  const bw = W / Math.max(1, volume.length);
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "alerts per day" });
  volume.forEach((v, i) => {
    const h = ((H - 26) * v.count) / max;
    const r = svg("rect", { x: i * bw + 1, y: H - 12 - h, width: Math.max(1, bw - 2), height: h });
    r.append(svg("title", {}, `${v.day}: ${v.count} alert${v.count === 1 ? "" : "s"}`));
    s.append(r);
  });
  if (volume.length) {
    s.append(svg("text", { x: 0, y: H - 1 }, volume[0].day));
    s.append(svg("text", { x: W, y: H - 1, "text-anchor": "end" }, volume[volume.length - 1].day));
    s.append(svg("text", { x: W, y: 9, "text-anchor": "end" }, `max ${max}/day`));
  }
  return el("div", { class: "volume" }, s);
}

function precision(fb) {
  if (!fb || fb.precision === null || fb.precision === undefined) return "no feedback yet";
  return `${Math.round(fb.precision * 100)} % helpful (${fb.helpful} helpful, ${fb.not_helpful} not helpful)`;
}

/** Metrics whose threshold moved (or got feedback) first: that is what needs explaining. */
function byAttention(a, b) {
  const weight = (m) => (m.threshold !== m.base_threshold ? 2 : 0) + (m.feedback.helpful + m.feedback.not_helpful > 0 ? 1 : 0);
  return weight(b) - weight(a) || a.metric.localeCompare(b.metric);
}

function metricRow(svc, m) {
  const moved = m.threshold !== m.base_threshold;
  const reset = el("button", {
    type: "button",
    class: "reset",
    disabled: !moved && m.feedback.helpful + m.feedback.not_helpful === 0,
    title: "forget earlier feedback: back to the configured threshold",
    onclick: async () => {
      const out = await act(
        () => api(`/api/v1/services/${encodeURIComponent(svc.name)}/metrics/${encodeURIComponent(m.metric)}/sensitivity/reset`, { method: "POST", body: {} }),
        `Sensitivity of ${svc.name} ${m.metric} reset.`,
      );
      if (out) load();
    },
  }, "Reset");
  const fed = m.feedback.helpful + m.feedback.not_helpful > 0;
  return el(
    "tr", { dataset: { metric: m.metric }, class: moved || fed ? "moved" : "" },
    el("td", {}, m.metric),
    el("td", { class: "num threshold" }, el("strong", {}, score(m.threshold)), moved ? el("span", { class: "muted" }, ` (configured ${score(m.base_threshold)})`) : null),
    el("td", { class: "explain" }, m.explanation, m.adaptive ? null : " (not adaptive)"),
    el("td", { class: "num" }, `${m.feedback.helpful} / ${m.feedback.not_helpful}`),
    el("td", {}, reset),
  );
}

function modeSwitch(svc) {
  const select = el("select", { name: "mode", "aria-label": `mode of ${svc.name}` }, ...MODES.map((m) => el("option", { value: m, selected: m === svc.mode }, m)));
  return el(
    "form", {
      class: "inline mode-switch",
      onsubmit: async (ev) => {
        ev.preventDefault();
        const mode = select.value;
        const out = await act(
          () => api(`/api/v1/services/${encodeURIComponent(svc.name)}/mode`, { method: "PUT", body: { mode, by: "dashboard" } }),
          `${svc.name} is now in ${mode} mode.`,
        );
        if (out) load();
      },
    },
    select, el("button", { type: "submit" }, "Switch mode"),
  );
}

function card(svc) {
  const changed = svc.mode_changed_at ? ` · switched by ${svc.mode_changed_by || "?"} ${when(svc.mode_changed_at)}` : "";
  return el(
    "section", { class: "card service", dataset: { service: svc.name } },
    el(
      "div", { class: "service-head" },
      el("h2", {}, el("a", { href: link(`/services/${encodeURIComponent(svc.name)}`) }, svc.name)),
      badge(svc.mode, `mode-${svc.mode}`),
      svc.mode !== svc.configured_mode ? el("span", { class: "muted" }, `configured: ${svc.configured_mode}`) : null,
      el("span", { class: "muted" }, changed),
      modeSwitch(svc),
    ),
    el(
      "div", { class: "kv" },
      el("span", {}, "criticality ", el("strong", {}, svc.criticality)),
      el("span", {}, "depends on ", el("strong", {}, svc.depends_on.length ? svc.depends_on.join(", ") : "nothing")),
      el("span", {}, "alerts ", el("a", { href: link(`/?service=${encodeURIComponent(svc.name)}`) }, el("strong", {}, `${svc.alerts.total}`)), ` (${svc.alerts.firing} firing, ${svc.alerts.last_7d} in 7 days)`),
      el("span", { class: "precision" }, "precision from feedback: ", el("strong", {}, precision(svc.feedback))),
    ),
    volumeChart(svc.volume || []),
    el(
      "table", { class: "list compact metrics" },
      el("thead", {}, el("tr", {}, el("th", {}, "Metric"), el("th", { class: "num" }, "Threshold"), el("th", {}, "Why"), el("th", { class: "num" }, "Helpful / not"), el("th", {}, ""))),
      el("tbody", {}, ...[...svc.metrics].sort(byAttention).map((m) => metricRow(svc, m))),
    ),
  );
}

async function load() {
  try {
    const services = only
      ? [await api(`/api/v1/services/${encodeURIComponent(only)}`)]
      : (await api("/api/v1/services")).services;
    root.classList.toggle("single", Boolean(only));
    root.replaceChildren(...services.map(card));
    if (!services.length) root.replaceChildren(el("p", { class: "muted" }, "No services known yet."));
  } catch (e) {
    flash(`Could not load services: ${e.message}`, "error");
  }
}

load();
