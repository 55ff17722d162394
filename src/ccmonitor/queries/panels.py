"""The catalogue of overview panels: one name, one query, one line of description. The JSON API
serves each at /api/panels/<name>, the overview page renders each, the OpenAPI document and the
benchmark list them from here, so they cannot drift apart."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ccmonitor.queries import activity, models, series, tiles, tools
from ccmonitor.queries.filters import Filters
from ccmonitor.store import Reader


@dataclass(frozen=True)
class Panel:
    name: str
    query: Callable[[Reader, Filters], Any]
    title: str
    description: str
    model_filter: bool = True  # False: the data has no model, the model filter does not narrow it


PANELS: dict[str, Panel] = {p.name: p for p in (
    Panel("tiles", tiles.tiles, "Totals",
          "Tokens by type, cost, sessions started, active users, lines, commits, pull requests, active "
          "time, API requests and errors, cache-hit ratio for the range"),
    Panel("tokens", series.tokens_over_time, "Token usage over time",
          "Tokens per time bucket by type (input, output, cacheRead, cacheCreation)"),
    Panel("cost", series.cost_over_time, "Cost over time", "Cost (USD) per time bucket by model"),
    Panel("lines", series.lines_over_time, "Lines of code", "Lines added and removed per time bucket"),
    Panel("active_time", series.active_time_over_time, "Active time",
          "Active seconds per time bucket, by type (user: typing, cli: working)", model_filter=False),
    Panel("models", models.models, "Models",
          "Per model: API requests, errors, latency p50/p95, tokens, cost and cache-hit ratio"),
    Panel("tools", tools.tool_usage, "Tool usage",
          "Executions per tool with success rate, median duration and permission decisions",
          model_filter=False),
    Panel("edit_decisions", tools.edit_decisions, "Edit decisions",
          "Accept/reject of Edit, Write and NotebookEdit by tool and language", model_filter=False),
    Panel("prompts", activity.recent_prompts, "Recent prompts",
          "Latest user prompts (slash commands left out); preview, full text via /api/prompts/{id}",
          model_filter=False),
    Panel("requests", activity.recent_requests, "Recent API requests",
          "Latest API requests: model, tokens, cost, duration"),
    Panel("errors", activity.api_errors, "API errors", "Latest API errors: status, message, attempt"),
)}


def overview(conn: Reader, f: Filters) -> dict[str, Any]:
    return {name: panel.query(conn, f) for name, panel in PANELS.items()}
