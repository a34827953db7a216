// Shadow-mode report (per service) and the labelled incidents it is measured against.
import { act, api, badge, el, flash, when, link } from "./common.js";

const params = new URLSearchParams(location.search);
const period = document.getElementById("period");
for (const k of ["since", "until"]) period.elements[k].value = params.get(k) || "";
period.elements.service.value = params.getAll("service").join(", ");
period.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = new URLSearchParams();
  for (const s of period.elements.service.value.split(/[,\s]+/).filter(Boolean)) q.append("service", s);
  for (const k of ["since", "until"]) if (period.elements[k].value.trim()) q.set(k, period.elements[k].value.trim());
  location.search = q.toString();
});

const pct = (x) => (x === null || x === undefined ? "\u2013" : `${Math.round(x * 100)} %`);
const num = (x) => (x === null || x === undefined ? "\u2013" : String(x));

function serviceRow(s) {
  const lead = s.median_lead_time_minutes;
  return el(
    "tr", { dataset: { service: s.service }, class: s.ready ? "ready" : "" },
    el("td", {}, el("a", { href: link(`/services/${encodeURIComponent(s.service)}`) }, s.service)),
    el("td", {}, badge(s.mode, `mode-${s.mode}`)),
    el("td", { class: "num" }, num(s.alerts)),
    el("td", { class: "num" }, num(s.would_page)),
    el("td", { class: "num" }, pct(s.precision_pages)),
    el("td", { class: "num" }, pct(s.precision_alerts)),
    el("td", { class: "num" }, num(s.incidents)),
    el("td", { class: "num" }, num(s.detected)),
    el("td", { class: "num" }, pct(s.recall)),
    el("td", { class: "num" }, lead === null || lead === undefined ? "\u2013" : `${lead} min`),
    el("td", {}, s.verdict),
  );
}

async function loadReport() {
  const q = new URLSearchParams();
  for (const s of params.getAll("service")) q.append("service", s);
  for (const k of ["since", "until"]) if (params.get(k)) q.set(k, params.get(k));
  try {
    const r = await api(`/api/v1/reports/shadow?${q}`);
    const body = document.querySelector("#shadow tbody");
    body.replaceChildren(
      ...(r.services.length
        ? r.services.map(serviceRow)
        : [el("tr", {}, el("td", { colspan: 11, class: "muted" }, "No service is in shadow mode now: name services above to see their report."))]),
    );
    document.getElementById("rule").textContent = `${when(r.since)} to ${when(r.until)}. Rule: ${r.rule}`;
  } catch (e) {
    flash(`Could not load the report: ${e.message}`, "error");
  }
}

function incidentRow(i) {
  return el(
    "tr", { dataset: { id: i.id } },
    el("td", {}, i.external_id || String(i.id)),
    el("td", {}, i.service || "any"),
    el("td", {}, i.title || ""),
    el("td", { class: "nowrap" }, when(i.start)),
    el("td", { class: "nowrap" }, when(i.end)),
    el("td", {}, i.source),
    el("td", {}, el("button", {
      type: "button",
      class: "danger",
      onclick: async () => {
        const out = await act(() => api(`/api/v1/incidents/labelled/${i.id}`, { method: "DELETE" }).then(() => true), "Incident removed.");
        if (out) refresh();
      },
    }, "Delete")),
  );
}

async function loadIncidents() {
  try {
    const r = await api("/api/v1/incidents/labelled");
    document.querySelector("#incidents tbody").replaceChildren(
      ...(r.incidents.length ? r.incidents.map(incidentRow) : [el("tr", {}, el("td", { colspan: 7, class: "muted" }, "No labelled incident yet: enter one or import a file."))]),
    );
  } catch (e) {
    flash(`Could not load incidents: ${e.message}`, "error");
  }
}

function refresh() {
  loadReport();
  loadIncidents();
}

const utc = (local) => `${local.length === 16 ? `${local}:00` : local}Z`;
const incidentForm = document.getElementById("incident-form");
incidentForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = incidentForm.elements;
  const body = { start: utc(f.start.value), end: utc(f.end.value) };
  if (f.service.value.trim()) body.service = f.service.value.trim();
  if (f.title.value.trim()) body.title = f.title.value.trim();
  const out = await act(() => api("/api/v1/incidents/labelled", { method: "POST", body }), "Incident added.");
  if (out) {
    incidentForm.reset();
    refresh();
  }
});

const importForm = document.getElementById("import-form");
importForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const file = importForm.elements.file.files[0];
  if (!file) return;
  const content = await file.text();
  const format = /\.json$/i.test(file.name) || file.type.includes("json") ? "json" : "csv";
  const out = await act(
    () => api("/api/v1/incidents/labelled/import", { method: "POST", body: { format, content } }),
    (r) => `Imported ${r.imported} incident${r.imported === 1 ? "" : "s"}${r.rejected.length ? `; rejected ${r.rejected.length}: ${r.rejected.map((x) => x.message).join("; ")}` : ""}.`,
  );
  if (out) {
    importForm.reset();
    refresh();
  }
});

api("/api/v1/services").then(
  (d) => document.getElementById("service-names").replaceChildren(...d.services.map((s) => el("option", { value: s.name }))),
  () => {},
);
refresh();
