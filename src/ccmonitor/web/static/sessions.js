// The session list, from its JSON twin /api/sessions; paging is `offset` in the URL.
import { el, fmt, getJSON, query, replace, sessionLink, setParams, table } from "./app.js";
import { initFilters } from "./filters.js";

let reload = null;

async function load() {
  const data = await getJSON(`/api/sessions?${query()}`);
  replace(document.getElementById("sessions"), table([
    { key: "session_id", label: "Session", cell: (r) => sessionLink(r.session_id) },
    { key: "user", label: "User", cell: (r) => el("span", { title: r.user ?? "" }, fmt.short(r.user, 24)) },
    { key: "start", label: "Start", cell: (r) => fmt.time(r.start) },
    { key: "duration_s", label: "Duration", num: true, cell: (r) => fmt.secs(r.duration_s) },
    { key: "prompts", label: "Prompts", num: true }, { key: "api_requests", label: "Requests", num: true },
    { key: "api_errors", label: "Errors", num: true },
    { key: "cost_usd", label: "Cost", num: true, cell: (r) => fmt.usd(r.cost_usd) },
    { key: "tokens", label: "Tokens", num: true, cell: (r) => fmt.int(r.tokens) },
    { key: "lines_added", label: "+Lines", num: true }, { key: "lines_removed", label: "−Lines", num: true },
  ], data.sessions, { empty: "No sessions in this range.", rowProps: (r) => ({ dataset: { session: r.session_id } }) }));
  document.getElementById("prev").disabled = data.offset === 0;
  document.getElementById("next").disabled = !data.has_more;
  document.getElementById("prev").onclick = () => page(Math.max(0, data.offset - data.limit));
  document.getElementById("next").onclick = () => page(data.offset + data.limit);
}

function page(offset) {
  setParams({ offset: offset || null });
  reload();
}

reload = initFilters(load);
