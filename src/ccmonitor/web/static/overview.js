// The overview page: every panel from one call to its JSON twin, /api/overview.
import { el, fmt, getJSON, query, replace, sessionLink, table } from "./app.js";
import { barChart, timeChart } from "./charts.js";
import { initFilters } from "./filters.js";

const TILES = [
  ["input_tokens", "Input tokens", fmt.int], ["output_tokens", "Output tokens", fmt.int],
  ["cache_read_tokens", "Cache read tokens", fmt.int], ["cache_creation_tokens", "Cache creation tokens", fmt.int],
  ["cost_usd", "Cost", fmt.usd], ["sessions", "Sessions started", fmt.int],
  ["active_users", "Active users", fmt.int], ["api_requests", "API requests", fmt.int],
  ["api_errors", "API errors", fmt.int], ["cache_hit_ratio", "Cache-hit ratio", fmt.pct],
  ["lines_added", "Lines added", fmt.int], ["lines_removed", "Lines removed", fmt.int],
  ["commits", "Commits", fmt.int], ["pull_requests", "Pull requests", fmt.int],
  ["active_time_user_s", "Active time (user)", fmt.secs], ["active_time_cli_s", "Active time (CLI)", fmt.secs],
];
const TOKEN_NAMES = { input: "Input", output: "Output", cacheRead: "Cache read", cacheCreation: "Cache creation" };
const panel = (name) => document.querySelector(`[data-panel="${name}"] .body`);

function tiles(data) {
  replace(document.getElementById("tiles"), TILES.map(([key, label, format]) =>
    el("div", { class: "tile", dataset: { tile: key } },
      el("span", { class: "label" }, label),
      el("span", { class: "value", dataset: { value: data[key] ?? "" } }, format(data[key])))));
}

function promptCell(row) {
  if (row.preview === null) {
    const why = document.body.dataset.role === "viewer" ? "hidden from viewers" : "not recorded";
    return el("span", { class: "muted" }, `${why} (${row.prompt_length ?? "?"} chars)`);
  }
  const text = el("span", { class: "prompt-text" }, row.preview + (row.truncated ? "…" : ""));
  if (!row.truncated) return text;
  const more = el("button", { type: "button", class: "link", onclick: async () => {
    const full = await getJSON(`/api/prompts/${encodeURIComponent(row.prompt_id)}`);
    more.replaceWith(el("pre", { class: "prompt-full" }, full.prompt ?? ""));
    text.remove();
  } }, "show full");
  return el("span", {}, text, " ", more);
}

// Edit decisions as language x tool, each cell "accepted / rejected" (the rows of the API, pivoted).
function decisions(rows) {
  const tools = [...new Set(rows.map((r) => r.tool))];
  const byLanguage = new Map();
  for (const r of rows) {
    if (!byLanguage.has(r.language)) byLanguage.set(r.language, { language: r.language });
    byLanguage.get(r.language)[r.tool] = r;
  }
  const cell = (tool) => (row) => (row[tool] ? `${fmt.int(row[tool].accept)} / ${fmt.int(row[tool].reject)}` : "–");
  return table([{ key: "language", label: "Language" },
    ...tools.map((tool) => ({ key: `tool-${tool}`, label: tool, num: true, cell: cell(tool) }))],
  [...byLanguage.values()], { empty: "No Edit, Write or NotebookEdit decisions in this range." });
}

const user = (row) => el("span", { title: row.user ?? "" }, fmt.short(row.user, 24));
const when = (row) => fmt.time(row.timestamp);

function tables(p) {
  replace(panel("models"), table([
    { key: "model", label: "Model" }, { key: "requests", label: "Requests", num: true, cell: (r) => fmt.int(r.requests) },
    { key: "errors", label: "Errors", num: true, cell: (r) => fmt.int(r.errors) },
    { key: "p50_ms", label: "p50", num: true, cell: (r) => fmt.ms(r.p50_ms) },
    { key: "p95_ms", label: "p95", num: true, cell: (r) => fmt.ms(r.p95_ms) },
    { key: "input", label: "Input", num: true, cell: (r) => fmt.int(r.input) },
    { key: "output", label: "Output", num: true, cell: (r) => fmt.int(r.output) },
    { key: "cacheRead", label: "Cache read", num: true, cell: (r) => fmt.int(r.cacheRead) },
    { key: "cache_hit_ratio", label: "Cache hits", num: true, cell: (r) => fmt.pct(r.cache_hit_ratio) },
    { key: "cost_usd", label: "Cost", num: true, cell: (r) => fmt.usd(r.cost_usd) },
  ], p.models));
  replace(panel("tools"), table([
    { key: "tool", label: "Tool" }, { key: "uses", label: "Uses", num: true, cell: (r) => fmt.int(r.uses) },
    { key: "success_rate", label: "Success", num: true, cell: (r) => fmt.pct(r.success_rate) },
    { key: "median_duration_ms", label: "Median", num: true, cell: (r) => fmt.ms(r.median_duration_ms) },
    { key: "accepted", label: "Accepted", num: true }, { key: "rejected", label: "Rejected", num: true },
  ], p.tools));
  barChart("chart-tools", p.tools.map((t) => t.tool), p.tools.map((t) => t.uses), "Uses");
  replace(panel("edit_decisions"), decisions(p.edit_decisions));
  replace(panel("prompts"), table([
    { key: "timestamp", label: "Time", cell: when }, { key: "user", label: "User", cell: user },
    { key: "session_id", label: "Session", cell: (r) => sessionLink(r.session_id) },
    { key: "preview", label: "Prompt", cell: promptCell },
  ], p.prompts));
  replace(panel("requests"), table([
    { key: "timestamp", label: "Time", cell: when }, { key: "model", label: "Model" },
    { key: "input_tokens", label: "In", num: true, cell: (r) => fmt.int(r.input_tokens) },
    { key: "output_tokens", label: "Out", num: true, cell: (r) => fmt.int(r.output_tokens) },
    { key: "cache_read_tokens", label: "Cache read", num: true, cell: (r) => fmt.int(r.cache_read_tokens) },
    { key: "cost_usd", label: "Cost", num: true, cell: (r) => fmt.usd(r.cost_usd) },
    { key: "duration_ms", label: "Duration", num: true, cell: (r) => fmt.ms(r.duration_ms) },
    { key: "session_id", label: "Session", cell: (r) => sessionLink(r.session_id) },
  ], p.requests));
  replace(panel("errors"), table([
    { key: "timestamp", label: "Time", cell: when }, { key: "model", label: "Model" },
    { key: "status_code", label: "Status", num: true }, { key: "error", label: "Message" },
    { key: "attempt", label: "Attempt", num: true },
    { key: "session_id", label: "Session", cell: (r) => sessionLink(r.session_id) },
  ], p.errors, { empty: "No API errors in this range." }));
}

async function load() {
  const data = await getJSON(`/api/overview?${query()}`);
  document.getElementById("empty").hidden = !data.empty;
  const p = data.panels;
  tiles(p.tiles);
  timeChart("chart-tokens", p.tokens, { names: TOKEN_NAMES });
  timeChart("chart-cost", p.cost);
  timeChart("chart-lines", p.lines, { stacked: false });
  timeChart("chart-active_time", p.active_time);
  tables(p);
}

initFilters(load);
