// Weekly audit: groups of alerts, noisy ones first and highlighted, with the suggestion.
import { api, badge, el, flash, when, link } from "./common.js";

const params = new URLSearchParams(location.search);
const form = document.getElementById("period");
form.elements.days.value = params.get("days") || "7";
form.elements.days.addEventListener("change", () => {
  location.search = new URLSearchParams({ days: form.elements.days.value }).toString();
});

function row(g) {
  const ratio = g.ignored_ratio === null || g.ignored_ratio === undefined ? "" : ` (${Math.round(g.ignored_ratio * 100)} %)`;
  const search = new URLSearchParams({ service: g.service, search: g.metric || g.alertname });
  return el(
    "tr", { class: g.noisy ? "noisy" : "", dataset: { service: g.service, metric: g.metric || "" } },
    el("td", {}, el("a", { href: link(`/services/${encodeURIComponent(g.service)}`) }, g.service)),
    el("td", {}, el("a", { href: link(`/?${search}`) }, g.metric || "")),
    el("td", {}, g.alertname, g.noisy ? [" ", badge("noisy", "sev-P2")] : null),
    el("td", { class: "num" }, g.alerts),
    el("td", { class: "num" }, g.notified),
    el("td", { class: "num" }, g.acknowledged),
    el("td", { class: "num" }, g.helpful),
    el("td", { class: "num" }, g.not_helpful),
    el("td", { class: "num nowrap" }, `${g.ignored}${ratio}`),
    el("td", { class: "suggestion" }, g.suggestion || ""),
  );
}

async function load() {
  try {
    const r = await api(`/api/v1/reports/audit?days=${encodeURIComponent(form.elements.days.value)}`);
    document.querySelector("#audit tbody").replaceChildren(
      ...(r.groups.length ? r.groups.map(row) : [el("tr", {}, el("td", { colspan: 10, class: "muted" }, "No alert in this period."))]),
    );
    document.getElementById("summary").textContent = `${when(r.since)} to ${when(r.until)}: ${r.noisy} noisy group${r.noisy === 1 ? "" : "s"} of ${r.groups.length}.`;
  } catch (e) {
    flash(`Could not load the audit: ${e.message}`, "error");
  }
}

load();
