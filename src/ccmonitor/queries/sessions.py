"""The session list: one row per Claude Code session with activity in the range, newest first.

A session belongs to the list when any of its events or metrics matches the filters (range, user,
terminal, attributes); with a model filter it must also have token or cost usage of that model.
Cost, tokens and lines are sums of the session's metrics (the same source as the tiles, with the
model filter applied); prompts, requests and errors count its events. Start and end are its first
and last record in the range.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from ccmonitor.queries import names
from ccmonitor.queries.buckets import iso
from ccmonitor.queries.filters import USER_EXPR, Filters

USER = USER_EXPR.format(p="")
PAGE = 50


def _members(f: Filters) -> tuple[str, list[object]]:
    where, params = f.where(model=False)
    sql = (f"SELECT session_id, timestamp, {USER} AS user, terminal_type FROM events WHERE {where}"
           f" AND session_id IS NOT NULL UNION ALL SELECT session_id, timestamp, {USER}, terminal_type"
           f" FROM metrics WHERE {where} AND session_id IS NOT NULL")
    params = [*params, *params]
    if f.models:
        used, used_params = f.where()
        sql = (f"SELECT * FROM ({sql}) WHERE session_id IN (SELECT session_id FROM metrics"
               f" WHERE metric_name IN (?, ?) AND {used})")
        params += [names.TOKENS, names.COST, *used_params]
    return sql, params


def list_sessions(conn: sqlite3.Connection, f: Filters, limit: int = PAGE, offset: int = 0) -> dict[str, Any]:
    members, params = _members(f)
    rows = conn.execute(
        f"SELECT session_id, MIN(timestamp) AS start, MAX(timestamp) AS end, MAX(user) AS user,"
        f" MAX(terminal_type) AS terminal FROM ({members}) GROUP BY session_id"
        " ORDER BY start DESC, session_id LIMIT ? OFFSET ?", [*params, limit + 1, offset]).fetchall()
    sessions = [_summary_row(dict(r)) for r in rows[:limit]]
    _add_totals(conn, f, sessions)
    return {"sessions": sessions, "offset": offset, "limit": limit, "has_more": len(rows) > limit}


def _summary_row(row: dict[str, Any]) -> dict[str, Any]:
    first, last = (datetime.fromisoformat(row[k]) for k in ("start", "end"))
    row["duration_s"] = round((last - first).total_seconds(), 3)
    row["start"], row["end"] = iso(row["start"]), iso(row["end"])
    row.update(prompts=0, api_requests=0, api_errors=0, cost_usd=0.0, tokens=0,
               lines_added=0, lines_removed=0)
    return row


def _add_totals(conn: sqlite3.Connection, f: Filters, sessions: list[dict[str, Any]]) -> None:
    if not sessions:
        return
    by_id = {s["session_id"]: s for s in sessions}
    ids = list(by_id)
    marks = ", ".join("?" * len(ids))
    where, params = f.where(model=False)
    counts = {names.USER_PROMPT: "prompts", names.API_REQUEST: "api_requests", names.API_ERROR: "api_errors"}
    for sid, event, n in conn.execute(
        f"SELECT session_id, event_name, COUNT(*) FROM events WHERE session_id IN ({marks}) AND {where}"
        " AND event_name IN (?, ?, ?) AND (event_name != ? OR json_extract(custom_attributes,"
        " '$.command_name') IS NULL) GROUP BY session_id, event_name",
            [*ids, *params, *counts, names.USER_PROMPT]):
        by_id[sid][counts[event]] = n
    where, params = f.where()
    for sid, metric, kind, total in conn.execute(
        f"SELECT session_id, metric_name, type, SUM(metric_value) FROM metrics WHERE session_id IN ({marks})"
        f" AND {where} AND metric_name IN (?, ?, ?) GROUP BY session_id, metric_name, type",
            [*ids, *params, *names.MODEL_METRICS]):
        s = by_id[sid]
        if metric == names.TOKENS:
            s["tokens"] += int(total or 0)
        elif metric == names.COST:
            s["cost_usd"] = round(s["cost_usd"] + (total or 0), 6)
        elif kind in ("added", "removed"):
            s[f"lines_{kind}"] += int(total or 0)
