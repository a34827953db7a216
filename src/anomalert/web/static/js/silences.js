// Silences (Alertmanager v2 API): list by state, create with matchers and a duration, expire.
import { act, api, badge, el, flash, now, when } from "./common.js";

const OPS = { "=": [false, true], "!=": [false, false], "=~": [true, true], "!~": [true, false] };

function opOf(m) {
  return Object.keys(OPS).find((k) => OPS[k][0] === m.isRegex && OPS[k][1] === (m.isEqual !== false));
}

export function matcherText(m) {
  return `${m.name}${opOf(m)}"${m.value}"`;
}

function matcherRow(name = "", value = "") {
  return el(
    "div", { class: "matcher" },
    el("input", { name: "mname", value: name, size: 12, placeholder: "label", "aria-label": "label name" }),
    el("select", { name: "mop", "aria-label": "operator" }, ...Object.keys(OPS).map((o) => el("option", { value: o }, o))),
    el("input", { name: "mvalue", value, size: 22, placeholder: "value", "aria-label": "label value" }),
    el("button", { type: "button", onclick: (ev) => ev.target.closest(".matcher").remove(), title: "remove" }, "\u00d7"),
  );
}

function row(s) {
  const state = s.status.state;
  const expire = state === "expired" ? null : el("button", {
    type: "button",
    class: "danger",
    onclick: async () => {
      const out = await act(() => api(`/api/v2/silence/${encodeURIComponent(s.id)}`, { method: "DELETE" }), "Silence expired.");
      if (out) load();
    },
  }, "Expire");
  return el(
    "tr", { dataset: { id: s.id, state } },
    el("td", {}, badge(state, state === "active" ? "state-ack" : state === "pending" ? "mode-assistive" : "state-resolved")),
    el("td", { class: "matchers" }, s.matchers.map(matcherText).join(", ")),
    el("td", { class: "nowrap" }, when(s.startsAt)),
    el("td", { class: "nowrap" }, s.untilResolved && !s.endsAt ? "until resolved" : when(s.endsAt)),
    el("td", {}, s.createdBy),
    el("td", {}, s.comment),
    el("td", {}, expire),
  );
}

async function load() {
  try {
    const all = await api("/api/v2/silences");
    const byEnd = (a, b) => (b.endsAt || "").localeCompare(a.endsAt || "");
    const current = all.filter((s) => s.status.state !== "expired").sort(byEnd);
    const expired = all.filter((s) => s.status.state === "expired").sort(byEnd).slice(0, 50);
    const fill = (id, list, empty) => document.querySelector(`#${id} tbody`).replaceChildren(
      ...(list.length ? list.map(row) : [el("tr", {}, el("td", { colspan: 7, class: "muted" }, empty))]),
    );
    fill("current", current, "No active or pending silence.");
    fill("expired", expired, "None.");
  } catch (e) {
    flash(`Could not load silences: ${e.message}`, "error");
  }
}

const form = document.getElementById("new-silence");
const rows = document.getElementById("matcher-rows");
const params = new URLSearchParams(location.search);
const preset = params.getAll("matcher").map((m) => m.split("="));
rows.replaceChildren(...(preset.length ? preset.map(([n, ...v]) => matcherRow(n, v.join("="))) : [matcherRow("service")]));
document.getElementById("add-matcher").addEventListener("click", () => rows.append(matcherRow()));
form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const matchers = [...rows.querySelectorAll(".matcher")]
    .map((r) => {
      const [isRegex, isEqual] = OPS[r.querySelector("[name=mop]").value];
      return { name: r.querySelector("[name=mname]").value.trim(), value: r.querySelector("[name=mvalue]").value, isRegex, isEqual };
    })
    .filter((m) => m.name);
  if (!matchers.length) {
    flash("A silence needs at least one matcher (label and value).", "error");
    return;
  }
  const body = {
    matchers,
    endsAt: Math.round(now() + Number(form.elements.duration.value)),
    createdBy: form.elements.createdBy.value.trim() || "dashboard",
    comment: form.elements.comment.value.trim(),
  };
  const out = await act(() => api("/api/v2/silences", { method: "POST", body }), (r) => `Silence ${r.silenceID} created.`);
  if (out) load();
});

load();
