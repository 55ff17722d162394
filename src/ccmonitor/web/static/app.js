// Shared by every page: URL state, the filter bar, fetching the JSON twin, auto-refresh,
// and a DOM builder that only ever inserts text nodes: user content is never parsed as HTML.

const FILTER_KEYS = ["range", "from", "to", "user", "model", "terminal"];

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const fmt = {
  int: (n) => (n === null || n === undefined ? "–" : Math.round(n).toLocaleString("en-US")),
  usd: (n) => (n === null || n === undefined ? "–" : "$" + Number(n).toFixed(Math.abs(n) >= 1 ? 2 : 4)),
  pct: (r) => (r === null || r === undefined ? "–" : (100 * r).toFixed(1) + "%"),
  ms: (n) => (n === null || n === undefined ? "–" : Math.round(n).toLocaleString("en-US") + " ms"),
  secs: (s) => {
    if (s === null || s === undefined) return "–";
    if (s < 60) return s.toFixed(1) + " s";
    if (s < 3600) return (s / 60).toFixed(1) + " min";
    return (s / 3600).toFixed(1) + " h";
  },
  time: (iso) => (iso ? new Date(iso).toLocaleString() : "–"),
  short: (text, n = 12) => (text && text.length > n ? text.slice(0, n) + "…" : text ?? "–"),
};

// The page's own query string holds the view; API calls take the same filters.
export function query(extra = {}) {
  const params = new URLSearchParams(location.search);
  params.delete("refresh");
  for (const [k, v] of Object.entries(extra)) {
    if (v === null || v === undefined || v === "") params.delete(k);
    else params.set(k, v);
  }
  return params;
}

export function setParams(changes) {
  const params = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === undefined || v === "") params.delete(k);
    else params.set(k, v);
  }
  history.replaceState(null, "", params.toString() ? "?" + params : location.pathname);
}

export async function getJSON(path) {
  // Resolved against the origin, not the page URL: a page opened as http://user:token@host/ would
  // otherwise hand fetch() a URL with credentials, which it refuses. The browser still sends the
  // Basic credentials it holds for this origin (same-origin fetch includes them).
  const response = await fetch(new URL(path, location.origin), { headers: { accept: "application/json" } });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body?.error?.message ?? `${response.status} ${response.statusText}`;
    throw new Error(message);
  }
  return body;
}

export function showError(error) {
  const banner = document.getElementById("error");
  banner.hidden = !error;
  banner.textContent = error ? `Could not load data: ${error.message}` : "";
}

export function status(text) {
  document.getElementById("status").textContent = text;
}

export function table(columns, rows, { empty = "Nothing in this range.", rowProps } = {}) {
  if (!rows.length) return el("p", { class: "none" }, empty);
  const head = el("tr", {}, columns.map((c) => el("th", { class: c.num ? "num" : undefined }, c.label)));
  const body = rows.map((row) =>
    el("tr", rowProps ? rowProps(row) : {}, columns.map((c) =>
      el("td", { class: c.num ? "num" : undefined, dataset: { field: c.key } }, c.cell ? c.cell(row) : row[c.key]))));
  return el("table", {}, el("thead", {}, head), el("tbody", {}, body));
}

export function sessionLink(id, label) {
  if (!id) return "–";
  return el("a", { href: `/sessions/${encodeURIComponent(id)}?${query({ offset: null })}` }, label ?? fmt.short(id, 8));
}

export function replace(container, ...children) {
  container.replaceChildren(...children.flat());
}
