// "Explain this alert": what, where, how bad, since when, what changed, what to do; actions.
import {
  act, age, api, duration, el, flash, link, now, score, seconds, severityBadge, stateBadge, when,
} from "./common.js";
import { drawChart } from "./chart.js";

const id = Number(document.getElementById("alert").dataset.id);
const SILENCE_LABELS = ["service", "metric", "alertname"];
const SHOWN_EVENTS = 3;
const REFRESH_MS = 15000;
let alert = null;

function facts(a) {
  const started = seconds(a.starts_at);
  const lasting = a.ends_at ? `lasted ${duration(seconds(a.ends_at) - started)}` : `firing for ${duration(now() - started)}`;
  return [
    severityBadge(a.severity), " ", stateBadge(a), " ",
    el("span", { class: "fact" }, "score ", el("strong", {}, score(a.score))),
    el("span", { class: "fact" }, "mode ", el("strong", {}, a.mode)),
    el("span", { class: "fact" }, "since ", el("strong", {}, when(a.starts_at)), ` (${age(a.starts_at)}, ${lasting})`),
    a.acknowledged_at ? el("span", { class: "fact" }, `acknowledged by ${a.acknowledged_by} ${age(a.acknowledged_at)}`) : null,
  ];
}

function eventItem(e) {
  const mins = e.minutes_before;
  const rel = mins >= 0 ? `${Math.round(mins)} minutes before` : `${Math.round(-mins)} minutes after`;
  const what = [e.kind.replace("_", " "), e.version ? ` ${e.version}` : "", e.service !== alert.service ? ` (${e.service})` : ""].join("");
  return el(
    "li",
    { class: `event ${e.kind}` },
    el("strong", {}, rel), " \u2014 ",
    e.link ? el("a", { href: e.link, rel: "noopener", target: "_blank" }, what) : what,
    e.description ? el("div", { class: "muted" }, e.description) : null,
  );
}

function historyRow(h) {
  const d = h.detail || {};
  let what = h.kind;
  let detail = "";
  if (h.kind === "notification") {
    what = `notified ${d.receiver || ""}`;
    detail = [d.status, d.tier ? `escalation tier ${d.tier}` : "", d.acknowledged ? "acknowledged" : ""].filter(Boolean).join(", ");
  } else if (h.kind === "state") {
    what = d.status || "state";
    detail = [d.severity, d.score !== undefined ? `score ${score(d.score)}` : ""].filter(Boolean).join(", ");
  } else if (h.kind === "feedback") {
    what = d.helpful ? "marked helpful" : "marked not helpful";
    detail = d.comment || "";
  } else if (h.kind === "sensitivity") {
    what = `threshold ${score(d.before)} \u2192 ${score(d.after)}`;
    detail = d.explanation || "";
  } else if (h.kind === "ack") {
    what = "acknowledged";
    detail = d.by ? `by ${d.by}` : "";
  } else {
    detail = Object.entries(d).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ");
  }
  return el("tr", { class: `hist-${h.kind}` }, el("td", { class: "nowrap" }, when(h.time)), el("td", {}, what), el("td", {}, detail));
}

function groupRow(a) {
  return el(
    "tr", {},
    el("td", {}, severityBadge(a.severity)),
    el("td", {}, stateBadge(a)),
    el("td", {}, el("a", { href: link(`/alerts/${a.id}`) }, `${a.service} \u00b7 ${a.metric || a.labels.alertname}`)),
    el("td", { class: "num" }, score(a.score)),
    el("td", {}, a.reason),
    el("td", { class: "nowrap" }, when(a.starts_at)),
  );
}

async function loadGroup(a) {
  const incident = a.labels.incident;
  const body = document.querySelector("#group tbody");
  if (!incident) {
    body.replaceChildren(el("tr", {}, el("td", { class: "muted" }, "This alert belongs to no incident group.")));
    return;
  }
  document.getElementById("incident-id").textContent = `incident ${incident}${a.labels.origin ? `, likely origin ${a.labels.origin}` : ""}`;
  const q = new URLSearchParams({ incident, limit: 50, before: a.id + 1000 });
  const data = await api(`/api/v1/alerts?${q}`);
  const others = data.alerts.filter((x) => x.id !== a.id);
  body.replaceChildren(
    ...(others.length ? others.map(groupRow) : [el("tr", {}, el("td", { class: "muted" }, "No other alert in this incident."))]),
  );
}

function render(a) {
  alert = a;
  document.title = `${a.severity} ${a.service} ${a.metric || ""} · anomalert`;
  document.getElementById("title").replaceChildren(
    el("a", { href: link(`/services/${encodeURIComponent(a.service)}`) }, a.service), " \u00b7 ", a.metric || a.labels.alertname || "alert",
  );
  document.getElementById("facts").replaceChildren(...facts(a).filter((x) => x !== null));
  document.getElementById("reason").textContent = a.reason || "(no reason given)";
  const events = a.events.map((e) => ({
    t: seconds(e.timestamp),
    label: `${e.kind.replace("_", " ")} ${e.version || ""}`.trim(),
    title: `${e.kind} ${e.version || ""} ${Math.round(e.minutes_before)} minutes before: ${e.description || ""}`,
  }));
  drawChart(document.getElementById("chart"), a.context, seconds(a.starts_at), events);
  // A member judged against its peers: the band and line are theirs, not its own baseline.
  const peers = a.context && a.context.kind === "outlier";
  document.getElementById("chart-legend").replaceChildren(
    el("span", { class: "key actual" }, "actual"),
    el("span", { class: "key band" }, peers ? "peers' band" : "baseline band"),
    el("span", { class: "key expected" }, peers ? "peers' median" : "expected"),
    el("span", { class: "key spike" }, "alert start"),
  );
  const list = document.getElementById("events");
  // The nearest changes first; the rest behind a toggle, so the actions stay above the fold.
  const nearest = [...a.events].sort((x, y) => Math.abs(x.minutes_before) - Math.abs(y.minutes_before));
  const items = nearest.map(eventItem);
  items.slice(SHOWN_EVENTS).forEach((li) => li.classList.add("more"));
  if (items.length > SHOWN_EVENTS) {
    items.push(el("li", { class: "toggle" }, el("button", {
      type: "button",
      onclick: (ev) => {
        list.classList.add("all");
        ev.target.closest("li").remove();
      },
    }, `${items.length - SHOWN_EVENTS} more change${items.length - SHOWN_EVENTS === 1 ? "" : "s"}`)));
  }
  list.classList.remove("all");
  list.replaceChildren(
    ...(items.length ? items : [el("li", { class: "muted" }, "No deployment or config change of this service in the two hours before.")]),
  );
  const rb = document.getElementById("runbook");
  rb.replaceChildren(a.runbook_url ? el("a", { href: a.runbook_url, rel: "noopener", target: "_blank" }, "Open the runbook") : "No runbook configured for this service.");
  document.getElementById("btn-ack").disabled = Boolean(a.acknowledged_at) || a.state !== "firing";
  // The silence form is filled from the alert's labels: clicked before they arrive, it came up empty.
  document.getElementById("btn-silence").disabled = false;
  document.getElementById("muted").textContent = a.muted_by && a.muted_by.length ? `Muted now by: ${a.muted_by.join(", ")}` : "";
  document.querySelector("#history tbody").replaceChildren(...a.history.map(historyRow).reverse());
}

async function load() {
  try {
    render(await api(`/api/v1/alerts/${id}`));
    await loadGroup(alert);
  } catch (e) {
    flash(`Could not load the alert: ${e.message}`, "error");
  }
}

function thresholdText(out) {
  const th = out && out.threshold;
  if (!th) return "Thanks: feedback recorded.";
  const change = th.before === th.after ? `stays ${score(th.after)}` : `${score(th.before)} \u2192 ${score(th.after)}`;
  return `Feedback recorded. Threshold of ${th.service} ${th.metric}: ${change}. ${th.explanation || ""}`;
}

async function feedback(helpful) {
  const comment = document.getElementById("feedback-comment").value.trim();
  const out = await act(() => api(`/api/v1/alerts/${id}/feedback`, { method: "POST", body: { helpful, comment } }), thresholdText);
  if (out) {
    document.getElementById("action-result").textContent = thresholdText(out);
    await load();
  }
}

document.getElementById("btn-helpful").addEventListener("click", () => feedback(true));
document.getElementById("btn-not-helpful").addEventListener("click", () => feedback(false));
document.getElementById("btn-ack").addEventListener("click", async () => {
  const out = await act(() => api(`/api/v1/alerts/${id}/ack`, { method: "POST", body: { by: "dashboard" } }), "Acknowledged.");
  if (out) await load();
});

const silenceForm = document.getElementById("silence-form");
document.getElementById("btn-silence").addEventListener("click", () => {
  const rows = SILENCE_LABELS.filter((k) => alert && alert.labels[k]).map((k) =>
    el(
      "div", { class: "matcher" },
      el("label", {}, el("input", { type: "checkbox", name: "use", value: k, checked: true }), " "),
      el("input", { name: "mname", value: k, size: 10, "aria-label": "label name" }),
      " = ",
      el("input", { name: "mvalue", value: alert.labels[k], size: 24, "aria-label": "label value" }),
    ));
  document.getElementById("matchers").replaceChildren(...rows);
  silenceForm.hidden = false;
  silenceForm.elements.comment.focus();
});
document.getElementById("silence-cancel").addEventListener("click", () => {
  silenceForm.hidden = true;
});
silenceForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const matchers = [...silenceForm.querySelectorAll(".matcher")]
    .filter((m) => m.querySelector("[name=use]").checked)
    .map((m) => ({ name: m.querySelector("[name=mname]").value.trim(), value: m.querySelector("[name=mvalue]").value, isRegex: false, isEqual: true }));
  if (!matchers.length) {
    flash("Choose at least one matcher.", "error");
    return;
  }
  const secs = Number(silenceForm.elements.duration.value);
  const body = {
    matchers,
    endsAt: Math.round(now() + secs),
    createdBy: "dashboard",
    comment: silenceForm.elements.comment.value.trim() || `from alert ${id}`,
  };
  const out = await act(() => api("/api/v2/silences", { method: "POST", body }), (r) => `Silence ${r.silenceID} created for ${duration(secs)}.`);
  if (out) {
    silenceForm.hidden = true;
    document.getElementById("action-result").replaceChildren("Silence created: ", el("a", { href: link("/silences") }, "see the silences"));
    await load();
  }
});

load();
// A firing alert changes (severity, acknowledgement, notifications): keep the page current.
setInterval(() => {
  if (alert && alert.state === "firing" && !document.hidden) load();
}, REFRESH_MS);
