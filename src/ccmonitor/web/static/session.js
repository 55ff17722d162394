// One session, prompt by prompt, from its JSON twin /api/sessions/{id}.
import { el, fmt, getJSON, query, replace } from "./app.js";
import { initFilters } from "./filters.js";

const sessionId = document.getElementById("session").dataset.sessionId;
const tokens = (r) => `${fmt.int(r.input_tokens)} in · ${fmt.int(r.output_tokens)} out · ${fmt.int(r.cache_read_tokens)} cache read`;

function summary(s) {
  const item = (label, value, key) => el("div", { class: "tile", dataset: { tile: key } },
    el("span", { class: "label" }, label), el("span", { class: "value" }, value));
  return el("div", { class: "tiles" },
    item("User", el("span", { title: s.user ?? "" }, fmt.short(s.user, 20)), "user"), item("Start", fmt.time(s.start), "start"),
    item("Duration", fmt.secs(s.duration_s), "duration_s"), item("Prompts", fmt.int(s.prompts), "prompts"),
    item("API requests", fmt.int(s.api_requests), "api_requests"), item("Cost", fmt.usd(s.cost_usd), "cost_usd"),
    item("Tokens", fmt.int(s.tokens), "tokens"), item("Lines", `+${s.lines_added ?? 0} −${s.lines_removed ?? 0}`, "lines"));
}

function step(s) {
  const time = el("time", {}, fmt.time(s.timestamp));
  if (s.event === "tool") {
    const verdict = s.decision ? `${s.decision}ed${s.source ? ` (${s.source})` : ""}` : "no decision";
    const result = s.success === null ? "not run" : s.success === "true" ? "succeeded" : "failed";
    return el("li", { class: `step tool ${s.decision === "reject" ? "bad" : ""}`, dataset: { kind: "tool", tool: s.tool_name } },
      time, el("strong", {}, s.tool_name ?? "tool"), ` ${verdict}, ${result}`,
      s.duration_ms !== null ? ` in ${fmt.ms(s.duration_ms)}` : "",
      s.tool_parameters ? el("pre", { class: "params" }, s.tool_parameters) : null);
  }
  if (s.event === "claude_code.api_request") {
    return el("li", { class: "step request", dataset: { kind: "request" } }, time, el("strong", {}, "API request"),
      ` ${s.model ?? ""} · ${tokens(s)} · ${fmt.usd(s.cost_usd)} · ${fmt.ms(s.duration_ms)}`);
  }
  if (s.event === "claude_code.api_error" || s.event === "claude_code.api_retries_exhausted") {
    const what = s.event.endsWith("exhausted") ? "Retries exhausted" : "API error";
    return el("li", { class: "step error bad", dataset: { kind: "error" } }, time, el("strong", {}, what),
      ` ${s.status_code ?? ""} ${s.error ?? ""} · attempt ${s.attempt ?? s.total_attempts ?? "?"}`);
  }
  if (s.event === "claude_code.assistant_response") {
    return el("li", { class: "step muted", dataset: { kind: "response" } }, time, `response (${s.response_length ?? "?"} chars)`);
  }
  return el("li", { class: "step muted", dataset: { kind: "other" } }, time, s.event.replace(/^claude_code\./, ""));
}

function spans(list) {
  if (!list.length) return null;
  return el("details", { class: "spans" }, el("summary", {}, `${list.length} spans`),
    el("ul", {}, list.map((s) => el("li", { class: `depth-${Math.min(s.depth, 6)}` },
      el("strong", {}, s.name.replace(/^claude_code\./, "")), ` ${fmt.ms(s.duration_ms)} `,
      Object.entries(s.attributes).map(([k, v]) => el("span", { class: "attr" }, `${k}=${v}`))))));
}

function promptCard(p, i) {
  const title = p.prompt_id === null ? "Before the first prompt"
    : p.command ? `/${p.command}` : `Prompt ${i}`;
  const text = p.prompt_id === null ? null
    : p.prompt !== null ? el("pre", { class: "prompt-full" }, p.prompt)
    : el("p", { class: "muted" }, `prompt text ${document.body.dataset.role === "viewer" ? "hidden from viewers"
      : "not recorded"} (${p.prompt_length ?? "?"} chars)`);
  return el("article", { class: "card wide prompt", id: p.prompt_id ? `prompt-${p.prompt_id}` : "preamble", dataset: { promptId: p.prompt_id ?? "" } },
    el("h3", {}, title, " ", el("small", {}, fmt.time(p.timestamp))),
    text,
    p.prompt_id === null ? null : el("p", { class: "totals" },
      `${p.api_requests} requests · ${p.tools} tools · ${p.errors} errors · ${fmt.usd(p.cost_usd)} · ${tokens(p)}`),
    el("ol", { class: "steps" }, p.steps.map(step)),
    spans(p.spans));
}

async function load() {
  const data = await getJSON(`/api/sessions/${encodeURIComponent(sessionId)}`);
  replace(document.getElementById("session-summary"), summary(data.session),
    el("p", {}, el("a", { href: `/sessions?${query()}` }, "‹ all sessions")));
  let n = 0;
  replace(document.getElementById("story"), data.prompts.map((p) => promptCard(p, p.prompt_id ? ++n : 0)));
}

initFilters(load, { facets: false });
