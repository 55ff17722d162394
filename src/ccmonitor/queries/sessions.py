"""The session list: one row per Claude Code session active in the range, newest first.

Which sessions, and their start and end, come from `rollup_sessions` (each session's first and last
activity: its session.count / active_time metrics and its prompts; kept by triggers), so the list
never scans the range. User, terminal and attribute filters apply to the session (attributes are
the custom resource attributes of its attribute set, store/attribute_sets.py); a model filter keeps
the sessions with token or cost usage of that model in the range. Cost, tokens and lines are sums of
the session's metrics in the range (the same source as the tiles); prompts, requests and errors
count its events.
"""

from __future__ import annotations

from typing import Any

from ccmonitor import telemetry as names
from ccmonitor.queries.buckets import iso, stored_time
from ccmonitor.queries.filters import Filters
from ccmonitor.queries.rollups import whole
from ccmonitor.store import Reader
from ccmonitor.store.dialect import Dialect
from ccmonitor.telemetry import utc_text

PAGE = 50


def session_where(sql: Dialect, f: Filters) -> tuple[str, list[object]]:
    """Condition on rollup_sessions: active in the range and matching every filter."""
    clauses = ["last_ts >= ?", "first_ts < ?"]
    params: list[object] = [utc_text(f.since), utc_text(f.until)]

    def one_of(expr: str, values: tuple[str, ...]) -> None:
        if values:
            clauses.append(f"{expr} IN ({', '.join('?' * len(values))})")
            params.extend(values)

    one_of('"user"', f.users)
    one_of("terminal_type", f.terminals)
    one_of("session_id", f.sessions)
    if f.attributes:
        sets, set_params = f.attribute_sets(sql)
        clauses.append(f"{sql.session_set('session_id')} IN ({sets})")
        params.extend(set_params)
    if f.models:
        used, used_params = f.where(sql)
        clauses.append(f"session_id IN (SELECT session_id FROM metrics WHERE metric_name IN (?, ?) AND {used})")
        params.extend([names.TOKENS, names.COST, *used_params])
    return " AND ".join(clauses), params


def list_sessions(conn: Reader, f: Filters, limit: int = PAGE, offset: int = 0) -> dict[str, Any]:
    where, params = session_where(conn.sql, f)
    rows = conn.execute(
        "SELECT session_id, first_ts AS start, last_ts AS end, \"user\", terminal_type AS terminal FROM rollup_sessions"
        f" WHERE {where} ORDER BY first_ts DESC, session_id LIMIT ? OFFSET ?", [*params, limit + 1, offset]).fetchall()
    sessions = [_summary_row(dict(r)) for r in rows[:limit]]
    _add_totals(conn, f, sessions)
    return {"sessions": sessions, "offset": offset, "limit": limit, "has_more": len(rows) > limit}


def _summary_row(row: dict[str, Any]) -> dict[str, Any]:
    first, last = (stored_time(row[k]) for k in ("start", "end"))
    row["duration_s"] = round((last - first).total_seconds(), 3) if first and last else None
    row["start"], row["end"] = iso(row["start"]), iso(row["end"])
    row.update(prompts=0, api_requests=0, api_errors=0, cost_usd=0.0, tokens=0,
               lines_added=0, lines_removed=0)
    return row


def _add_totals(conn: Reader, f: Filters, sessions: list[dict[str, Any]]) -> None:
    if not sessions:
        return
    by_id = {s["session_id"]: s for s in sessions}
    ids = list(by_id)
    marks = ", ".join("?" * len(ids))
    where, params = Filters(since=f.since, until=f.until).where(conn.sql)  # the session is chosen: only the range
    command = conn.sql.command_name("custom_attributes")
    counts = {names.USER_PROMPT: "prompts", names.API_REQUEST: "api_requests", names.API_ERROR: "api_errors"}
    # "+name": keep the planner on the (session_id, timestamp) index, not on every request in the range
    for sid, event, n in conn.execute(
        f"SELECT session_id, event_name, COUNT(*) FROM events WHERE session_id IN ({marks}) AND {where}"
        f" AND {conn.sql.hint('event_name')} IN (?, ?, ?) AND (event_name != ? OR {command} IS NULL)"
        " GROUP BY session_id, event_name",
            [*ids, *params, *counts, names.USER_PROMPT]):
        by_id[sid][counts[event]] = n
    if f.models:
        where, params = Filters(since=f.since, until=f.until, models=f.models).where(conn.sql)
    for sid, metric, kind, total in conn.execute(
        f"SELECT session_id, metric_name, type, {conn.sql.total('metric_value')} FROM metrics"
        f" WHERE session_id IN ({marks})"
        f" AND {where} AND {conn.sql.hint('metric_name')} IN (?, ?, ?) GROUP BY session_id, metric_name, type",
            [*ids, *params, *names.MODEL_METRICS]):
        s = by_id[sid]
        if metric == names.TOKENS:
            s["tokens"] = whole(s["tokens"] + (total or 0))
        elif metric == names.COST:
            s["cost_usd"] = round(s["cost_usd"] + (total or 0), 6)
        elif kind in ("added", "removed"):
            s[f"lines_{kind}"] = whole(s[f"lines_{kind}"] + (total or 0))
