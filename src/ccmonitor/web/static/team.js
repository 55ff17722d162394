// The Team page, from its JSON twin /api/team: adoption, tiles and cost over time per group, the
// sortable leaderboard (per user or per group) with its CSV download, versions, who stopped reporting.
// The view lives in the URL: the filters plus by (group key), rows (users|groups), days, sort.
import { el, fmt, getJSON, query, replace, setParams, table } from "./app.js";
import { timeChart } from "./charts.js";
import { initFilters } from "./filters.js";

const $ = (id) => document.getElementById(id);
const COLUMNS = [
  { key: "cost_usd", label: "Cost", format: fmt.usd }, { key: "tokens", label: "Tokens", format: fmt.int },
  { key: "sessions", label: "Sessions", format: fmt.int }, { key: "active_days", label: "Active days", format: fmt.int },
  { key: "cost_per_active_day", label: "Cost / active day", format: fmt.usd },
  { key: "lines_added", label: "+Lines", format: fmt.int }, { key: "lines_removed", label: "−Lines", format: fmt.int },
  { key: "accept_rate", label: "Edit accept rate", format: fmt.pct }, { key: "commits", label: "Commits", format: fmt.int },
  { key: "pull_requests", label: "PRs", format: fmt.int }, { key: "last_seen", label: "Last seen", format: fmt.time },
];
const change = (r) => (r === null || r === undefined ? "" : `${r >= 0 ? "+" : ""}${(100 * r).toFixed(0)}% vs previous`);
const params = () => new URLSearchParams(location.search);
let reload = null;
let last = null;

function tile(key, label, value, note) {
  return el("div", { class: "tile", dataset: { tile: key } }, el("span", { class: "label" }, label),
    el("span", { class: "value", dataset: { value: value ?? "" } }, key.startsWith("cost") ? fmt.usd(value) : fmt.int(value)),
    el("span", { class: "change" }, note));
}

function adoption(a) {
  const r = a.range;
  replace($("adoption"), [
    ...["dau", "wau", "mau"].map((k) => tile(k, k.toUpperCase(), a[k].users, change(a[k].change))),
    tile("active_users", "Active users (range)", r.active_users, change(r.change.active_users)),
    tile("cost_per_active_user", "Cost per active user", r.cost_per_active_user, change(r.change.cost_per_active_user)),
  ]);
  $("adoption-note").textContent = "DAU/WAU/MAU: users with usage in the 1, 7, 30 days to the range's end";
}

function groups(board) {
  const box = $("groups");
  box.hidden = !board.groups;
  if (!board.groups) return replace(box);
  replace(box, board.groups.map((g) => el("div", { class: "card", dataset: { group: g.group } },
    el("h3", { title: g.group }, g.group),
    el("dl", {}, [["Cost", fmt.usd(g.cost_usd)], ["Users", fmt.int(g.users)], ["Tokens", fmt.int(g.tokens)],
      ["Sessions", fmt.int(g.sessions)], ["Active days", fmt.int(g.active_days)], ["Lines +/−",
        `${fmt.int(g.lines_added)} / ${fmt.int(g.lines_removed)}`], ["Edit accept rate", fmt.pct(g.accept_rate)],
      ["Commits / PRs", `${fmt.int(g.commits)} / ${fmt.int(g.pull_requests)}`]]
      .flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])))));
}

function sortState() {
  const raw = params().get("sort") || "-cost_usd";
  return { key: raw.replace(/^-/, ""), desc: raw.startsWith("-") };
}

function sorted(rows, { key, desc }) {
  const value = (r) => r[key] ?? null;
  return [...rows].sort((a, b) => {
    const x = value(a), y = value(b);
    if (x === y) return 0;
    if (x === null) return 1; // missing values last, either way
    if (y === null) return -1;
    const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    return desc ? -order : order;
  });
}

function leaderboard(board, by, rowsOf) {
  const rows = rowsOf === "groups" && board.groups ? board.groups : board.users;
  const keys = [...(rows === board.groups ? [{ key: "group", label: by }, { key: "users", label: "Users", format: fmt.int }]
    : [...(by ? [{ key: "group", label: by }] : []), { key: "user", label: "User" }]), ...COLUMNS];
  const state = sortState();
  const head = el("tr", {}, keys.map((c) => el("th", {
    class: `sortable${c.format ? " num" : ""}`, dataset: { sort: c.key },
    "aria-sort": c.key === state.key ? (state.desc ? "descending" : "ascending") : undefined,
    onclick: () => {
      const numeric = c.format && c.key !== "last_seen";
      const desc = c.key === state.key ? !state.desc : numeric || c.key === "last_seen";
      setParams({ sort: `${desc ? "-" : ""}${c.key}` });
      leaderboard(board, by, rowsOf);
    } }, c.label)));
  const body = sorted(rows, state).map((r) => el("tr", { dataset: { row: r.user ?? r.group ?? "" } }, keys.map((c) =>
    el("td", { class: c.format ? "num" : undefined, dataset: { field: c.key, value: r[c.key] ?? "" },
      title: typeof r[c.key] === "string" ? r[c.key] : undefined },
    c.format ? c.format(r[c.key]) : fmt.short(r[c.key] ?? "(unknown)", 32)))));
  replace($("leaderboard"), rows.length ? el("table", {}, el("thead", {}, head), el("tbody", {}, body))
    : el("p", { class: "none" }, "Nobody in this range."));
  $("t-csv").href = `/api/team/leaderboard.csv?${query({ rows: rowsOf === "groups" && by ? "groups" : null, sort: null, days: null })}`;
}

function silent(s) {
  $("silent-note").textContent = `silent for ${s.days}+ days`;
  const machines = s.tokens_in_use
    ? table([{ key: "machine", label: "Token" }, { key: "last_seen", label: "Last seen", cell: (r) => fmt.time(r.last_seen) },
      { key: "days_silent", label: "Days silent", num: true }], s.machines, { empty: "Every token reported." })
    : el("p", { class: "none" }, "No tokens in use: machines are not named (Claude Code sends no host name).");
  replace($("silent"),
    el("h4", {}, "Users"),
    table([{ key: "user", label: "User", cell: (r) => el("span", { title: r.user }, fmt.short(r.user, 28)) },
      { key: "last_seen", label: "Last seen", cell: (r) => fmt.time(r.last_seen) },
      { key: "days_silent", label: "Days silent", num: true }], s.users, { empty: "Everyone seen before reported." }),
    el("h4", {}, "Machines"), machines,
    el("h4", {}, "Clients sending only logs or only metrics"),
    table([{ key: "user", label: "User", cell: (r) => el("span", { title: r.user ?? "" }, fmt.short(r.user, 28)) },
      { key: "version", label: "Version" }, { key: "missing", label: "Missing" }, { key: "sessions", label: "Sessions", num: true }],
    s.one_signal, { empty: "Every client sent both." }));
}

async function controls() {
  const facets = await getJSON(`/api/facets?${query({ user: null, model: null, terminal: null })}`);
  const by = params().get("by") || "";
  const keys = [...new Set([...Object.keys(facets.attributes), ...(by ? [by] : [])])].sort();
  replace($("t-by"), el("option", { value: "" }, "Nothing (per user)"),
    keys.map((k) => el("option", { value: k, selected: k === by }, k === "ccmonitor.token" ? "machine (token)" : k)));
}

async function load() {
  const data = await getJSON(`/api/team?${query({ rows: null, sort: null })}`);
  last = data;
  const by = data.by, rowsOf = params().get("rows") || "users";
  $("t-rows").value = rowsOf;
  $("t-rows").disabled = !by;
  $("t-days").value = data.silent.days;
  adoption(data.adoption);
  groups(data.leaderboard);
  $("cost-by").textContent = by ? `by ${by}` : "all users";
  timeChart("chart-team-cost", data.cost);
  leaderboard(data.leaderboard, by, rowsOf);
  replace($("versions"), table([{ key: "version", label: "Version" }, { key: "users", label: "Users", num: true },
    { key: "sessions", label: "Sessions", num: true }, { key: "last_seen", label: "Last seen", cell: (r) => fmt.time(r.last_seen) }],
  data.adoption.versions, { empty: "No sessions in this range." }));
  silent(data.silent);
  document.body.dataset.teamBy = by ?? "";
}

function onControl(id, name, value) {
  $(id).addEventListener("change", (event) => {
    setParams({ [name]: value(event.target) });
    if (name === "rows" && last) return leaderboard(last.leaderboard, last.by, params().get("rows") || "users");
    reload();
  });
}

onControl("t-by", "by", (t) => t.value);
onControl("t-rows", "rows", (t) => (t.value === "users" ? null : t.value));
onControl("t-days", "days", (t) => (Number(t.value) === 7 ? null : t.value));
controls().catch(() => {});
reload = initFilters(load);
