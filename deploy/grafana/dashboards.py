"""The provisioned "Claude Code Monitoring Dashboard", for each datasource, from one catalogue of panels:

    python deploy/grafana/dashboards.py    # rewrites dashboards{,-postgres}/claude-code-monitoring.json

The two files have the same panels, layout, variables and uid (each stack provisions one of them); only
the SQL and the datasource differ (panel_sql.py). tests/test_grafana_dashboard.py checks that the files
are what this writes, and runs every panel's SQL on both databases with Grafana's macro expansion.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from panel_sql import (
    API_REQUEST,
    TOOL_RESULT,
    USER,
    Datasource,
    Postgres,
    Sqlite,
    Sum,
    branches,
    every,
    filters,
    hours,
    one_of,
    percentiles,
    summed,
)

HERE = Path(__file__).parent
TITLE = "Claude Code Monitoring Dashboard"
DATASOURCES: dict[str, tuple[Datasource, dict[str, str], str]] = {  # name -> (SQL, datasource ref, folder)
    "sqlite": (Sqlite(), {"type": "frser-sqlite-datasource", "uid": "ccmonitor-sqlite"}, "dashboards"),
    "postgres": (Postgres(), {"type": "grafana-postgresql-datasource", "uid": "ccmonitor-postgres"},
                 "dashboards-postgres"),
}
FILE = "claude-code-monitoring.json"
# Charts ask for about as many buckets as the built-in dashboard draws (queries/buckets.py), so Grafana's
# interval is 6 h at 30 days and 1 h at 7 days: whole hours, which the hourly rollups serve.
CHART_POINTS = 120
TOKENS, COST, LINES = "claude_code.token.usage", "claude_code.cost.usage", "claude_code.lines_of_code.count"
SESSIONS, ACTIVE_TIME = "claude_code.session.count", "claude_code.active_time.total"
COMMITS, PULL_REQUESTS = "claude_code.commit.count", "claude_code.pull_request.count"
EDIT_DECISION, API_ERROR = "claude_code.code_edit_tool.decision", "claude_code.api_error"
RETRIES_EXHAUSTED, USER_PROMPT = "claude_code.api_retries_exhausted", "claude_code.user_prompt"

Query = Callable[[Datasource], str]


@dataclass(frozen=True)
class Panel:
    title: str
    kind: str  # stat | timeseries | barchart | table
    grid: tuple[int, int, int, int]  # x, y, w, h
    query: Query
    description: str = ""
    unit: str = "short"
    decimals: int | None = 0
    series_label: str = ""  # timeseries: the label each series is named by
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # table column -> unit/decimals
    x_field: str = ""  # barchart


def stat(title: str, s: Sum) -> Query:
    return lambda ds: summed(ds, s, f'COALESCE(SUM(v), 0) AS "{title}"')


def tokens(kind: str, title: str) -> Query:
    return stat(title, Sum("metrics", (TOKENS,), where=f"type = '{kind}'"))


def chart(metric: str, split: str, value: str, *, model: bool = True) -> Query:
    s = Sum("metrics", (metric,), (split,), model=model, series=True)
    return lambda ds: summed(ds, s, f"{ds.time_bucket()}, {split}, SUM(v) AS {value}",
                             "GROUP BY 1, 2\nORDER BY 1, 2")


def commits(ds: Datasource) -> str:
    s = Sum("metrics", (COMMITS, PULL_REQUESTS), ("metric_name",), model=False)
    return summed(ds, s, f"COALESCE(SUM(CASE WHEN metric_name = '{COMMITS}' THEN v END), 0) AS \"Commits\",\n"
                         f"  COALESCE(SUM(CASE WHEN metric_name = '{PULL_REQUESTS}' THEN v END), 0)"
                         ' AS "Pull requests"')


def cost_by_model(ds: Datasource) -> str:
    s = Sum("metrics", (COST,), ("model",))
    return summed(ds, s, "COALESCE(model, 'unknown') AS \"Model\", SUM(v) AS \"Cost (USD)\"",
                  "GROUP BY 1\nORDER BY 2 DESC, 1")


def cost_by_user(ds: Datasource) -> str:
    """Cost per user from rollup_metrics_users (keyed by attribute set too, so a team reads it as well) for
    the whole hours and rows for the edges; Sessions = the user's sessions active in the range, as the
    session variable lists them (rollup_sessions: no rollup can count distinct sessions over hours)."""
    what = f"metric_name = '{COST}' AND {one_of('model', 'model')}"
    costs = branches(ds, "metrics", "rollup_metrics_users", hours(ds), 'NULLIF("user", \'\') AS u, value AS v',
                     f"{USER} AS u, metric_value AS v", what, what, sets_table="rollup_metrics_users")
    team = (f"({every('team')} OR session_id IN (SELECT session FROM session_attribute_sets"
            f" WHERE attribute_set IN ({ds.team_sets})))")
    return (f"WITH costs AS (\n  SELECT u, SUM(v) AS cost FROM (\n  {costs}\n  ) AS s GROUP BY 1\n"
            '), sessions AS (\n  SELECT "user" AS u, COUNT(*) AS n FROM rollup_sessions\n'
            f'  WHERE last_ts >= {ds.since} AND first_ts <= {ds.until} AND "user" IS NOT NULL\n'
            f"    AND {one_of('user', chr(34) + 'user' + chr(34))} AND {one_of('session', 'session_id')} AND {team}\n"
            "  GROUP BY 1\n)\n"
            'SELECT c.u AS "User", c.cost AS "Cost (USD)", COALESCE(n.n, 0) AS "Sessions"\n'
            "FROM costs c LEFT JOIN sessions n ON n.u = c.u\nORDER BY 2 DESC, 1")


def tool_usage(ds: Datasource) -> str:
    s = Sum("events", (TOOL_RESULT,), ("tool_name",), model=False)
    return summed(ds, s, "COALESCE(tool_name, 'unknown') AS \"Tool\", SUM(v) AS \"Runs\"",
                  "GROUP BY 1\nORDER BY 2 DESC, 1")


def tool_success(ds: Datasource) -> str:
    s = Sum("events", (TOOL_RESULT,), ("tool_name", "success"), model=False)
    runs = summed(ds, s, "COALESCE(tool_name, '') AS key, SUM(v) AS runs,"
                         " SUM(CASE WHEN success = 'true' THEN v ELSE 0 END) AS succeeded", "GROUP BY 1")
    return (f"WITH {percentiles(ds, TOOL_RESULT, (50,))}, runs AS (\n{runs}\n)\n"
            "SELECT COALESCE(NULLIF(r.key, ''), 'unknown') AS \"Tool\", r.runs AS \"Runs\","
            ' r.succeeded AS "Succeeded",\n  1.0 * r.succeeded / r.runs AS "Success rate",'
            ' m.value AS "Median duration (ms)"\n'
            "FROM runs r LEFT JOIN percentiles m ON m.key = r.key AND m.p = 50\nORDER BY 2 DESC, 1")


def api_latency(ds: Datasource) -> str:
    s = Sum("events", (API_REQUEST, API_ERROR), ("event_name", "model"))
    counts = summed(ds, s, f"COALESCE(model, '') AS key,"
                           f" SUM(CASE WHEN event_name = '{API_REQUEST}' THEN v ELSE 0 END) AS requests,"
                           f" SUM(CASE WHEN event_name = '{API_ERROR}' THEN v ELSE 0 END) AS errors", "GROUP BY 1")
    return (f"WITH {percentiles(ds, API_REQUEST, (50, 95))}, counts_by_model AS (\n{counts}\n)\n"
            "SELECT COALESCE(NULLIF(c.key, ''), 'unknown') AS \"Model\", c.requests AS \"Requests\","
            ' c.errors AS "Errors",\n'
            '  MAX(CASE WHEN l.p = 50 THEN l.value END) AS "p50 (ms)",'
            ' MAX(CASE WHEN l.p = 95 THEN l.value END) AS "p95 (ms)"\n'
            "FROM counts_by_model c LEFT JOIN percentiles l ON l.key = c.key\n"
            "GROUP BY c.key, c.requests, c.errors\nORDER BY 2 DESC, 1")


def edit_decisions(ds: Datasource) -> str:
    s = Sum("metrics", (EDIT_DECISION,), ("tool", "decision"), model=False)
    return summed(ds, s, 'COALESCE(tool, \'unknown\') AS "Tool", decision AS "Decision", SUM(v) AS "Count"',
                  "GROUP BY 1, 2\nORDER BY 3 DESC, 1, 2")


def api_errors(ds: Datasource) -> str:
    """The newest of each event from its own index (one IN would make PostgreSQL sort every error)."""
    def newest(event: str) -> str:
        return (f"  SELECT * FROM (\n    SELECT timestamp, {ds.time_text()} AS time,"
                ' substr(event_name, 13) AS "Event", model AS "Model",\n'
                '      status_code AS "Status", attempt AS "Attempt", error AS "Error",'
                f' session_id AS "Session"\n    FROM events\n    WHERE event_name = \'{event}\' AND {ds.between()}\n'
                f"      AND {filters(ds)}\n    ORDER BY timestamp DESC\n    LIMIT 200\n  ) AS e")

    return ('SELECT time, "Event", "Model", "Status", "Attempt", "Error", "Session"\nFROM (\n'
            f"{newest(API_ERROR)}\n  UNION ALL\n{newest(RETRIES_EXHAUSTED)}\n) AS errors\n"
            "ORDER BY timestamp DESC\nLIMIT 200")


def recent_prompts(ds: Datasource) -> str:
    return (f"SELECT {ds.time_text()} AS time,\n"
            f"  substr(replace(prompt, {ds.newline}, ' '), 1, 200) AS \"Prompt\", prompt_length AS \"Length\",\n"
            f'  {USER} AS "User", session_id AS "Session"\n'
            f"FROM events\nWHERE event_name = '{USER_PROMPT}'\n  AND prompt IS NOT NULL\n  AND {ds.not_a_command}\n"
            f"  AND {ds.between()}\n  AND {filters(ds, model=False)}\nORDER BY timestamp DESC\nLIMIT 100")


def recent_requests(ds: Datasource) -> str:
    return (f"SELECT {ds.time_text()} AS time, model AS \"Model\",\n"
            '  input_tokens AS "Input", output_tokens AS "Output", cache_read_tokens AS "Cache read",\n'
            '  cache_creation_tokens AS "Cache creation", cost_usd AS "Cost (USD)", duration_ms AS "Duration (ms)",\n'
            '  session_id AS "Session"\n'
            f"FROM events\nWHERE event_name = '{API_REQUEST}'\n  AND {ds.between()}\n  AND {filters(ds)}\n"
            "ORDER BY timestamp DESC\nLIMIT 100")


USD = {"unit": "currencyUSD", "decimals": 4}
PANELS = [
    Panel("Input tokens", "stat", (0, 0, 4, 4), tokens("input", "Input tokens")),
    Panel("Output tokens", "stat", (4, 0, 4, 4), tokens("output", "Output tokens")),
    Panel("Cache read tokens", "stat", (8, 0, 4, 4), tokens("cacheRead", "Cache read tokens")),
    Panel("Cache creation tokens", "stat", (12, 0, 4, 4), tokens("cacheCreation", "Cache creation tokens")),
    Panel("Total cost", "stat", (16, 0, 4, 4), stat("Cost (USD)", Sum("metrics", (COST,))),
          "As computed by Claude Code from its own price table (claude_code.cost.usage).",
          unit="currencyUSD", decimals=4),
    Panel("Sessions started", "stat", (20, 0, 4, 4), stat("Sessions", Sum("metrics", (SESSIONS,), model=False)),
          "Sessions started in the range (claude_code.session.count; a --continue counts as a start)."),
    Panel("Token usage over time", "timeseries", (0, 4, 12, 8), chart(TOKENS, "type", "tokens"),
          "Input, output, cache read and cache creation tokens.", series_label="type"),
    Panel("Cost over time", "timeseries", (12, 4, 12, 8), chart(COST, "model", "cost"),
          unit="currencyUSD", decimals=None, series_label="model"),
    Panel("Lines of code added / removed", "timeseries", (0, 12, 8, 8), chart(LINES, "type", "lines"),
          series_label="type"),
    Panel("Active time", "timeseries", (8, 12, 8, 8), chart(ACTIVE_TIME, "type", "seconds", model=False),
          "cli = Claude Code working, user = you typing (interactive sessions).", unit="s", decimals=None,
          series_label="type"),
    Panel("Commits / pull requests", "stat", (16, 12, 8, 8), commits,
          "Created by Claude Code (claude_code.commit.count, claude_code.pull_request.count)."),
    Panel("Cost by model", "barchart", (0, 20, 8, 8), cost_by_model, unit="currencyUSD", decimals=None,
          x_field="Model"),
    Panel("Cost by user", "table", (8, 20, 8, 8), cost_by_user,
          "User = e-mail, else account UUID, else the hashed user.id. Sessions = the user's sessions active in"
          " the range.", overrides={"Cost (USD)": USD}),
    Panel("Tool usage", "barchart", (16, 20, 8, 8), tool_usage, "Tool runs (claude_code.tool_result events).",
          decimals=None, x_field="Tool"),
    Panel("Tool success rate", "table", (0, 28, 12, 8), tool_success,
          "Runs, successes and the exact median duration per tool (the built-in dashboard's numbers).",
          overrides={"Success rate": {"unit": "percentunit", "decimals": 1}}),
    Panel("API latency", "table", (12, 28, 12, 8), api_latency,
          "Exact p50 and p95 duration of successful API requests per model, with requests and errors"
          " (the built-in dashboard's Models numbers).", overrides={"p50 (ms)": {"unit": "ms"},
                                                                     "p95 (ms)": {"unit": "ms"}}),
    Panel("Edit decisions", "table", (0, 36, 8, 8), edit_decisions,
          "Accept/reject decisions for Edit, Write and NotebookEdit."),
    Panel("API errors", "table", (8, 36, 16, 8), api_errors),
    Panel("Recent user prompts", "table", (0, 44, 24, 9), recent_prompts,
          "Typed prompts only (no slash commands); empty unless Claude Code runs with OTEL_LOG_USER_PROMPTS=1."),
    Panel("Recent API requests", "table", (0, 53, 24, 9), recent_requests, overrides={"Cost (USD)": USD}),
]


@dataclass(frozen=True)
class Variable:
    name: str
    label: str
    query: Query
    sort: int = 1  # alphabetical; 0: the query's order


def users(ds: Datasource) -> str:
    """The users of the sessions active in the range (the built-in filter choices)."""
    return (f'SELECT DISTINCT "user" FROM rollup_sessions\nWHERE last_ts >= {ds.since} AND first_ts <= {ds.until}'
            ' AND "user" IS NOT NULL\nORDER BY 1')


def models(ds: Datasource) -> str:
    """The models of the hours the range touches (the rollups, as the built-in filter choices)."""
    return "\nUNION\n".join(f"SELECT model FROM rollup_{t} WHERE hour >= {ds.since_hour} AND hour <= {ds.until}"
                            " AND model <> ''" for t in ("metrics", "events")) + "\nORDER BY 1"


def sessions(ds: Datasource) -> str:
    return (f"SELECT session_id FROM rollup_sessions\nWHERE last_ts >= {ds.since} AND first_ts <= {ds.until}\n"
            "ORDER BY last_ts DESC\nLIMIT 200")


def teams(ds: Datasource) -> str:
    """The `team` of the attribute sets of the sessions active in the range (store/attribute_sets.py). The
    text test sits inside the DISTINCT: as a WHERE, PostgreSQL guesses it keeps one set in 200 and
    probes the sessions of each set instead of reading the range's sessions once."""
    return (f"SELECT team FROM (\n  SELECT DISTINCT CASE WHEN {ds.team_is_text} THEN {ds.team_text} END AS team"
            " FROM attribute_sets\n  WHERE id IN (SELECT attribute_set FROM session_attribute_sets WHERE session IN\n"
            f"    (SELECT session_id FROM rollup_sessions WHERE last_ts >= {ds.since} AND first_ts <= {ds.until}))\n"
            ") AS t\nWHERE team IS NOT NULL\nORDER BY 1")


VARIABLES = [Variable("user", "User", users), Variable("model", "Model", models),
             Variable("session", "Session", sessions, sort=0), Variable("team", "Team", teams)]


def target(name: str, ref: dict[str, str], sql: str, series: bool) -> dict[str, Any]:
    if name == "sqlite":
        return {"refId": "A", "datasource": ref, "queryType": "time series" if series else "table",
                "rawQueryText": sql, "queryText": sql, "timeColumns": ["time"]}
    return {"refId": "A", "datasource": ref, "editorMode": "code", "format": "time_series" if series else "table",
            "rawQuery": True, "rawSql": sql}


def panel_json(number: int, p: Panel, name: str, ds: Datasource, ref: dict[str, str]) -> dict[str, Any]:
    x, y, w, h = p.grid
    out: dict[str, Any] = {"id": number, "type": p.kind, "title": p.title, "description": p.description,
                           "datasource": ref, "gridPos": {"x": x, "y": y, "w": w, "h": h},
                           "targets": [target(name, ref, p.query(ds), p.kind == "timeseries")]}
    defaults: dict[str, Any] = {"unit": p.unit} if p.kind != "table" else {}
    if p.decimals is not None and p.kind != "table":
        defaults["decimals"] = p.decimals
    overrides = [{"matcher": {"id": "byName", "options": column},
                  "properties": [{"id": k, "value": v} for k, v in props.items()]}
                 for column, props in p.overrides.items()]
    if p.kind == "stat":
        defaults["color"] = {"mode": "fixed", "fixedColor": "blue"}
        out["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                          "colorMode": "value", "graphMode": "none", "textMode": "auto", "justifyMode": "auto",
                          "orientation": "auto", "wideLayout": True, "showPercentChange": False}
    elif p.kind == "timeseries":
        defaults["custom"] = {"drawStyle": "bars", "fillOpacity": 60, "stacking": {"mode": "normal", "group": "A"},
                              "lineWidth": 1, "spanNulls": False, "showPoints": "auto"}
        defaults["displayName"] = "${__field.labels." + p.series_label + "}"
        out["interval"] = "1m"
        out["maxDataPoints"] = CHART_POINTS
        out["options"] = {"legend": {"showLegend": True, "displayMode": "list", "placement": "bottom",
                                     "calcs": ["sum"]}, "tooltip": {"mode": "multi", "sort": "desc"}}
    elif p.kind == "barchart":
        defaults["color"] = {"mode": "palette-classic"}
        defaults["custom"] = {"fillOpacity": 80, "lineWidth": 1}
        out["options"] = {"xField": p.x_field, "orientation": "horizontal", "showValue": "auto", "barWidth": 0.8,
                          "groupWidth": 0.7, "legend": {"showLegend": False, "displayMode": "list",
                                                        "placement": "bottom"},
                          "tooltip": {"mode": "single", "sort": "none"}, "stacking": "none", "xTickLabelRotation": 0}
    else:
        defaults["custom"] = {"align": "auto", "cellOptions": {"type": "auto"}}
        out["options"] = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"]}}
    out["fieldConfig"] = {"defaults": defaults, "overrides": overrides}
    return out


def variable_json(v: Variable, ds: Datasource, ref: dict[str, str]) -> dict[str, Any]:
    sql = v.query(ds)
    return {"name": v.name, "label": v.label, "type": "query", "datasource": ref, "query": sql, "definition": sql,
            "refresh": 2, "sort": v.sort, "includeAll": True, "multi": True, "allValue": "'__all'",
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]}, "options": [], "hide": 0,
            "regex": "", "skipUrlSync": False}


def dashboard(name: str) -> dict[str, Any]:
    ds, ref, _ = DATASOURCES[name]
    other = "PostgreSQL" if name == "postgres" else "SQLite"
    return {
        "uid": "claude-code-monitoring",
        "title": TITLE,
        "description": f"Claude Code telemetry stored by ccmonitor in {other} (datasource: Claude Code Monitoring)."
                       " Sums read the hourly rollups of the built-in dashboard; the team variable selects"
                       " attribute sets, like its attr.team filter.",
        "tags": ["claude-code", "ccmonitor"], "timezone": "browser", "editable": True, "graphTooltip": 1,
        "refresh": "30s", "time": {"from": "now-24h", "to": "now"}, "timepicker": {}, "schemaVersion": 39,
        "version": 1, "links": [], "annotations": {"list": []},
        "templating": {"list": [variable_json(v, ds, ref) for v in VARIABLES]},
        "panels": [panel_json(i + 1, p, name, ds, ref) for i, p in enumerate(PANELS)],
    }


def render(name: str) -> str:
    return json.dumps(dashboard(name), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    for name, (_, _, folder) in DATASOURCES.items():
        (HERE / folder / FILE).write_text(render(name))


if __name__ == "__main__":
    main()
