// The filter bar: every control reads from and writes to the URL, then asks the page to reload.
// Custom times are entered in the browser's zone and sent as UTC ISO 8601.
import { el, getJSON, query, setParams, showError, status } from "./app.js";

const $ = (id) => document.getElementById(id);

function localInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function fillSelect(select, values, selected, allLabel) {
  const options = [el("option", { value: "" }, allLabel)];
  const seen = new Set();
  for (const { value, label } of values) {
    seen.add(value);
    options.push(el("option", { value, selected: value === selected }, label));
  }
  if (selected && !seen.has(selected)) options.push(el("option", { value: selected, selected: true }, selected));
  select.replaceChildren(...options);
}

// A user is an email, an account uuid or a hashed user.id (64 hex digits): shorten only the hash.
function userLabel(u) {
  return /^[0-9a-f]{64}$/.test(u.id) ? `user ${u.id.slice(0, 12)}…` : u.id;
}

export async function loadFacets() {
  const params = new URLSearchParams(location.search);
  const facets = await getJSON(`/api/facets?${query({ user: null, model: null, terminal: null })}`);
  fillSelect($("f-user"), facets.users.map((u) => ({ value: u.id, label: userLabel(u) })), params.get("user"), "All users");
  fillSelect($("f-model"), facets.models.map((m) => ({ value: m, label: m })), params.get("model"), "All models");
  fillSelect($("f-terminal"), facets.terminals.map((t) => ({ value: t, label: t })), params.get("terminal"), "All terminals");
  const attrs = $("f-attributes");
  const keys = new Set([...Object.keys(facets.attributes), ...[...params.keys()].filter((k) => k.startsWith("attr.")).map((k) => k.slice(5))]);
  attrs.replaceChildren(...[...keys].sort().map((key) => {
    const select = el("select", { name: `attr.${key}`, dataset: { attribute: key } });
    fillSelect(select, (facets.attributes[key] || []).map((v) => ({ value: v, label: v })), params.get(`attr.${key}`), "All");
    return el("label", {}, key, " ", select);
  }));
}

export function initFilters(load, { facets = true } = {}) {
  const params = new URLSearchParams(location.search);
  $("tz").textContent = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
  const range = params.get("range") || "24h";
  $("f-range").value = range;
  $("f-custom").hidden = range !== "custom";
  $("f-from").value = localInput(params.get("from"));
  $("f-to").value = localInput(params.get("to"));
  $("f-refresh").value = params.get("refresh") || "0";

  const reload = async () => {
    try {
      showError(null);
      status("Loading…");
      const twin = document.getElementById("twin").getAttribute("href");
      $("json-link").href = `${twin}?${query()}`;
      await load();
      document.body.dataset.loads = String(Number(document.body.dataset.loads || 0) + 1);
      status(`Updated ${new Date().toLocaleTimeString()}`);
    } catch (error) {
      showError(error);
      status("");
    }
  };
  const refacet = () => (facets ? loadFacets().catch(showError) : Promise.resolve());

  $("filters").addEventListener("change", (event) => {
    const target = event.target;
    if (target.id === "f-range") {
      $("f-custom").hidden = target.value !== "custom";
      if (target.value === "custom") return; // wait for Apply
      setParams({ range: target.value === "24h" ? null : target.value, from: null, to: null, offset: null });
      refacet();
    } else if (target.id === "f-refresh") {
      setParams({ refresh: target.value === "0" ? null : target.value });
      schedule();
      return;
    } else if (target.name && target.tagName === "SELECT") {
      setParams({ [target.name]: target.value, offset: null });
    } else return;
    reload();
  });
  $("f-apply").addEventListener("click", () => {
    const from = $("f-from").value, to = $("f-to").value;
    if (!from || !to) return showError(new Error("choose both From and To"));
    setParams({ range: "custom", from: new Date(from).toISOString(), to: new Date(to).toISOString(), offset: null });
    refacet();
    reload();
  });
  $("filters").addEventListener("submit", (e) => e.preventDefault());

  let timer = null;
  const schedule = () => {
    clearInterval(timer);
    const seconds = Number(new URLSearchParams(location.search).get("refresh") || 0);
    if (seconds > 0) timer = setInterval(reload, seconds * 1000);
  };
  schedule();
  refacet();
  reload();
  return reload;
}
