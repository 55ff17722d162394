"""The OpenAPI 3.1 document of /api/, built from the same panel catalogue the API serves, so a new
panel is documented the moment it exists (a test checks every route is described)."""

from __future__ import annotations

from typing import Any

from ccmonitor import __version__
from ccmonitor.queries.panels import PANELS
from ccmonitor.queries.periods import GROUPED, REPORTS

ERROR = {"$ref": "#/components/responses/Error"}


def _query(name: str, description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema,
            **extra}


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string"}}


FILTERS = [
    _query("range", "Time range ending now; `custom` takes `from` and `to`.",
           {"type": "string", "enum": ["1h", "24h", "7d", "30d", "custom"], "default": "24h"}),
    _query("from", "Start (ISO 8601; UTC if no zone), with range=custom.", {"type": "string"}),
    _query("to", "End, exclusive (ISO 8601), with range=custom.", {"type": "string"}),
    *(_query(n, d, {"type": "array", "items": {"type": "string"}}, explode=True) for n, d in (
        ("user", "User: email, account uuid or user id (repeatable)."),
        ("model", "Claude model (repeatable); panels without a model ignore it."),
        ("terminal", "Terminal type (repeatable)."),
        ("session", "Session id (repeatable)."))),
    _query("token", "What one token (machine) sent: shorthand for `attr.ccmonitor.token=<name>` (repeatable).",
           {"type": "array", "items": {"type": "string"}}, explode=True),
    _query("attr", "Custom resource attribute, sent as `attr.<key>=<value>`, e.g. `attr.team=platform`;"
           " values of one key are alternatives.",
           {"type": "object", "additionalProperties": {"type": "string"}}, style="form", explode=True),
]
BY = _query("by", "Group by this custom attribute (e.g. `team`, `department`, `ccmonitor.token`); rows"
                  " without it are the group `(none)`.", {"type": "string"})
DAYS = _query("days", "Who stopped reporting: silent for at least this many days (1..3650).",
              {"type": "integer", "default": 7})
PAGING = [_query("limit", "Page size (max 500).", {"type": "integer", "default": 50}),
          _query("offset", "Rows to skip.", {"type": "integer", "default": 0})]


def _get(summary: str, parameters: list[dict[str, Any]], schema: dict[str, Any] | None = None,
         not_found: bool = False) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {"description": "OK", "content": {"application/json": {"schema": schema or {"type": "object"}}}},
        "400": ERROR, "401": ERROR, "503": ERROR, "500": ERROR}
    if not_found:
        responses["404"] = ERROR
    return {"get": {"summary": summary, "parameters": parameters, "responses": responses}}


def document() -> dict[str, Any]:
    panel_names = list(PANELS)
    panel_list = "; ".join(f"`{p.name}`: {p.description}" for p in PANELS.values())
    return {
        "openapi": "3.1.0",
        "info": {"title": "ccmonitor dashboard API", "version": __version__,
                 "description": "Read-only JSON over the same queries as the dashboard, reports and "
                                "tests. Times are ISO 8601 UTC. Errors: `{\"error\": {\"code\", \"message\"}}`."},
        "paths": {
            "/api/overview": _get("Every overview panel at once, plus `empty` (no data received yet)", FILTERS),
            "/api/panels/{name}": _get(
                f"One overview panel. Panels: {panel_list}",
                [{**_path("name", "Panel name"), "schema": {"type": "string", "enum": panel_names}}, *FILTERS],
                not_found=True),
            "/api/sessions": _get("Sessions with activity in the range, newest first", [*FILTERS, *PAGING]),
            "/api/sessions/{session_id}": _get(
                "One session prompt by prompt: requests, tool decisions and results, errors, spans",
                [_path("session_id", "Claude Code session.id")], not_found=True),
            "/api/prompts/{prompt_id}": _get(
                "Full text of one prompt (null when it was not recorded)",
                [_path("prompt_id", "prompt.id")], not_found=True),
            "/api/facets": _get("Users, models, terminals and custom attributes seen in the range", FILTERS),
            "/api/reports/{name}": _get(
                "What `ccmonitor report NAME --json` prints (rows and total), computed by this server",
                [{**_path("name", "Report"), "schema": {"type": "string", "enum": list(REPORTS)}}, *FILTERS,
                 _query("tz", "IANA zone of days, weeks and months", {"type": "string", "default": "UTC"}),
                 _query("breakdown", "Split daily/users rows by model (1)", {"type": "string"}),
                 {**BY, "description": f"Rows per group of this custom attribute ({', '.join(GROUPED)})"}, DAYS],
                not_found=True),
            "/api/team": _get(
                "The Team page: the users leaderboard (per group and user with `by`), per-group rows and the"
                " range's total (cost, tokens, sessions, active days, cost per active day, lines, edit accept"
                " rate, commits, PRs, last seen); cost over time per group; adoption (DAU/WAU/MAU, cost per"
                " active user, change against the previous period, versions); who stopped reporting",
                [*FILTERS, BY, DAYS]),
            "/api/team/leaderboard.csv": {"get": {
                "summary": "The leaderboard as CSV (the rows of `/api/team`'s leaderboard; numbers only)",
                "parameters": [*FILTERS, BY, _query("rows", "`users` (default) or `groups` (needs `by`)",
                                                    {"type": "string", "enum": ["users", "groups"]})],
                "responses": {"200": {"description": "CSV, header line first", "content": {
                    "text/csv": {"schema": {"type": "string"}}}}, "400": ERROR, "401": ERROR, "503": ERROR,
                    "500": ERROR}}},
            "/api/openapi.json": _get("This document", []),
        },
        "security": [{"bearer": []}, {"basic": []}],
        "components": {
            "securitySchemes": {  # only when the server runs with --auth-token; /health never asks
                "bearer": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic", "description": "any user name, the token as password"}},
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}},
            "responses": {"Error": {"description": "Error", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
        },
    }
