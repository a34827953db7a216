// Shared by every page: the API client (admin token from localStorage), the flash message,
// times relative to the service's clock, and a tiny element builder (no innerHTML).

const TOKEN_KEY = "anomalert.adminToken";
const ROOT = document.body.dataset.root || "/";

/** A dashboard or API path ("/alerts/7") relative to this page, so a proxy prefix is kept. */
export function link(path) {
  return ROOT + path.replace(/^\//, "");
}
const serverNow = Number(document.body.dataset.now || Date.now() / 1000);
const skew = serverNow - Date.now() / 1000;
export const tokensConfigured = document.body.dataset.tokens === "yes";

/** Seconds since the epoch on the service's clock (the demo runs on the data's clock). */
export function now() {
  return Date.now() / 1000 + skew;
}

export function token() {
  return localStorage.getItem(TOKEN_KEY) || "";
}

/** An API error with the message people should read. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Call the JSON API; errors become ApiError with a readable message. */
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && token()) headers.Authorization = `Bearer ${token()}`;
  const r = await fetch(link(path), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try {
    data = await r.json();
  } catch {
    data = null;
  }
  if (!r.ok) {
    const msg = (data && data.error && data.error.message) || `HTTP ${r.status}`;
    if (r.status === 401) {
      throw new ApiError(401, "This action needs the admin token: enter it in the \u201cadmin token\u201d field at the top right, then try again.");
    }
    if (r.status === 403) {
      throw new ApiError(403, `The admin token saved here is not accepted (${msg}). Enter the right one at the top right.`);
    }
    throw new ApiError(r.status, msg);
  }
  return data;
}

/** Show a message under the header (kind: ok, error, info). */
export function flash(message, kind = "info") {
  const box = document.getElementById("flash");
  box.textContent = message;
  box.className = `flash ${kind}`;
  box.hidden = false;
}

/** Run an action; its error, if any, is flashed. Returns the result or null. */
export async function act(fn, okMessage) {
  try {
    const out = await fn();
    if (okMessage) flash(typeof okMessage === "function" ? okMessage(out) : okMessage, "ok");
    return out;
  } catch (e) {
    flash(e instanceof ApiError ? e.message : `Failed: ${e}`, "error");
    return null;
  }
}

/** el("a", {href: "/x", class: "y"}, "text", child) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

export function seconds(rfc) {
  return rfc ? Date.parse(rfc) / 1000 : null;
}

/** "5 min", "3 h 10 min", "2 d" */
export function duration(s) {
  s = Math.max(0, Math.round(s));
  if (s < 90) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 90) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  return `${Math.round(h / 24)} d`;
}

export function age(rfc) {
  const t = seconds(rfc);
  return t === null ? "" : `${duration(now() - t)} ago`;
}

/** "2026-01-16 16:01 UTC" */
export function when(rfc) {
  if (!rfc) return "";
  return rfc.replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, " UTC");
}

export function score(x) {
  return typeof x === "number" ? x.toFixed(2) : "";
}

export function badge(text, kind) {
  return el("span", { class: `badge ${kind}` }, text);
}

export function severityBadge(sev) {
  return badge(sev, `sev-${sev}`);
}

export function stateBadge(a) {
  if (a.state === "firing" && a.acknowledged_at) return badge("acknowledged", "state-ack");
  return badge(a.state, `state-${a.state}`);
}

function setupToken() {
  const form = document.getElementById("token-form");
  const input = document.getElementById("token-input");
  const state = document.getElementById("token-state");
  const show = () => {
    state.textContent = token() ? "saved" : tokensConfigured ? "none" : "";
  };
  input.value = token();
  show();
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = input.value.trim();
    if (v) localStorage.setItem(TOKEN_KEY, v);
    else localStorage.removeItem(TOKEN_KEY);
    show();
    flash(v ? "Admin token saved in this browser." : "Admin token cleared.", "ok");
  });
}

setupToken();
