// The alerts list: filters and the keyset page live in the URL; refreshed every 10 s.
import { age, api, el, flash, score, severityBadge, stateBadge, when, link } from "./common.js";

const FILTERS = ["state", "service", "severity", "mode", "search"];
const PAGE = Math.min(Math.max(Number(new URLSearchParams(location.search).get("limit")) || 50, 1), 500);
const REFRESH_MS = 10000;

const params = new URLSearchParams(location.search);
const form = document.getElementById("filters");
for (const name of FILTERS) {
  if (params.get(name)) form.elements[name].value = params.get(name);
}
// Empty fields stay out of the URL, so links stay short and shareable.
form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = new URLSearchParams();
  for (const name of FILTERS) {
    const v = form.elements[name].value.trim();
    if (v) q.set(name, v);
  }
  if (params.get("limit")) q.set("limit", params.get("limit"));
  location.search = q.toString();
});
for (const name of ["state", "severity", "mode"]) {
  form.elements[name].addEventListener("change", () => form.requestSubmit());
}

function query(extra = {}) {
  const q = new URLSearchParams();
  for (const name of FILTERS) if (params.get(name)) q.set(name, params.get(name));
  if (params.get("limit")) q.set("limit", String(PAGE));
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  return q;
}

function row(a) {
  const href = link(`/alerts/${a.id}`);
  return el(
    "tr",
    { class: `sev-row-${a.severity}`, dataset: { id: a.id } },
    el("td", {}, severityBadge(a.severity)),
    el("td", {}, stateBadge(a)),
    el("td", {}, el("a", { href: link(`/services/${encodeURIComponent(a.service)}`) }, a.service)),
    el("td", {}, el("a", { href }, a.metric || a.labels.alertname || "")),
    el("td", { class: "num" }, score(a.score)),
    el("td", {}, a.mode),
    el("td", { class: "reason-cell" }, el("a", { href }, a.reason || "")),
    el("td", { class: "nowrap" }, when(a.starts_at)),
    el("td", { class: "nowrap" }, a.ends_at ? `ended ${age(a.ends_at)}` : age(a.starts_at)),
  );
}

async function load() {
  const q = query({ limit: String(PAGE) });
  if (params.get("before")) q.set("before", params.get("before"));
  try {
    const data = await api(`/api/v1/alerts?${q}`);
    const body = document.querySelector("#alerts tbody");
    body.replaceChildren(...data.alerts.map(row));
    document.getElementById("empty").hidden = data.alerts.length > 0;
    const older = document.getElementById("older");
    older.hidden = data.next === null;
    if (data.next !== null) older.href = link(`/?${query({ before: data.next })}`);
    const newest = document.getElementById("newest");
    newest.hidden = !params.get("before");
    newest.href = link(`/?${query()}`);
    document.getElementById("refreshed").textContent =
      `${data.alerts.length}${data.next !== null ? "+" : ""} shown · refreshed ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    flash(`Could not load alerts: ${e.message}`, "error");
  }
}

async function serviceNames() {
  try {
    const data = await api("/api/v1/services");
    const list = document.getElementById("service-names");
    list.replaceChildren(...data.services.map((s) => el("option", { value: s.name })));
  } catch {
    // The list of names only helps typing; the filter works without it.
  }
}

load();
serviceNames();
setInterval(load, REFRESH_MS);
