"""Usage by period (day/week/month in a time zone), session, model and user, and tool outcomes: the
numbers `ccmonitor report` prints and the API serves (issue 5).

Where each number comes from (one choice, used by every view):
  * tokens and cost: the `token.usage` / `cost.usage` metrics (stored as increments, so SUM is the total);
  * API requests and errors: `api_request` / `api_error` events (`api_retries_exhausted` repeats an
    error already counted, so it is not counted again);
  * sessions: distinct session ids with any telemetry in the row (a session active on two days counts
    on both days; it is counted once in the total).
Local periods: SQLite has no time zones, so the zone's UTC offsets over the data's time range become a
CASE of `strftime` modifiers (`'-480 minutes'`). Each record lands on the local day, week (starting
Monday) or month it happened in, across DST changes.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from ccmonitor.queries.filters import USER_EXPR, Filters, utc_text

PERIODS = ("day", "week", "month")
GROUPS = (*PERIODS, "session", "model", "user")
USAGE_COLUMNS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens", "cost_usd",
                 "sessions", "api_requests", "errors")
TOKEN_TYPES = {"input": "input_tokens", "output": "output_tokens", "cacheRead": "cache_read_tokens",
               "cacheCreation": "cache_creation_tokens"}
_PERIOD_SQL = {"day": "strftime('%Y-%m-%d', {c}, {m})", "week": "date({c}, {m}, '-6 days', 'weekday 1')",
               "month": "strftime('%Y-%m', {c}, {m})"}
_SCAN_STEP = 12 * 3600  # no zone changes its offset twice within 12 hours


def _offset_minutes(tz: tzinfo | None, epoch: int) -> int:
    """UTC offset at an instant; tz None = the machine's local zone (honours TZ)."""
    at = datetime.fromtimestamp(epoch, UTC)
    local = at.astimezone(tz) if tz is not None else at.astimezone()
    return int(local.utcoffset().total_seconds()) // 60  # type: ignore[union-attr]


def offset_spans(tz: tzinfo | None, lo: datetime, hi: datetime) -> list[tuple[str | None, int]]:
    """[(UTC text before which the offset applies, or None for the last span), offset minutes]."""
    t, end = int(lo.timestamp()), int(hi.timestamp())
    current = _offset_minutes(tz, t)
    spans: list[tuple[str | None, int]] = []
    while t < end:
        nxt = min(t + _SCAN_STEP, end)
        if _offset_minutes(tz, nxt) != current:
            a, b = t, nxt  # the first second with the new offset lies in (a, b]
            while b - a > 1:
                mid = (a + b) // 2
                a, b = (mid, b) if _offset_minutes(tz, mid) == current else (a, mid)
            spans.append((utc_text(datetime.fromtimestamp(b, UTC)), current))
            current = _offset_minutes(tz, b)
        t = nxt
    return [*spans, (None, current)]


def local_modifier(column: str, spans: list[tuple[str | None, int]]) -> tuple[str, list[object]]:
    """SQL evaluating to the strftime modifier that turns `column` (UTC text) into local time."""
    if len(spans) == 1:
        return "?", [f"{spans[0][1]:+d} minutes"]
    sql, params = "CASE", []
    for before, minutes in spans[:-1]:
        sql += f" WHEN {column} < ? THEN ?"
        params += [before, f"{minutes:+d} minutes"]
    return sql + " ELSE ? END", [*params, f"{spans[-1][1]:+d} minutes"]


def _bounds(conn: sqlite3.Connection, filters: Filters) -> tuple[datetime, datetime]:
    lo, hi = utc_text(filters.since), utc_text(filters.until)
    found = [conn.execute(f"SELECT MIN(timestamp), MAX(timestamp) FROM {t} WHERE timestamp >= ? AND timestamp < ?",
                          (lo, hi)).fetchone() for t in ("metrics", "events")]
    lows, highs = [r[0] for r in found if r[0]], [r[1] for r in found if r[1]]
    if not lows:
        return filters.since, filters.since
    return _parse(min(lows)), _parse(max(highs)) + timedelta(seconds=1)


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _key(conn: sqlite3.Connection, by: str, filters: Filters, tz: tzinfo | None) -> tuple[str, list[object]]:
    if by in PERIODS:
        modifier, params = local_modifier("t.timestamp", offset_spans(tz, *_bounds(conn, filters)))
        return _PERIOD_SQL[by].format(c="t.timestamp", m=modifier), params
    expr = {"session": "t.session_id", "model": "t.model", "user": USER_EXPR.format(p="t."), "all": "'total'"}
    return expr[by], []


def usage(conn: sqlite3.Connection, filters: Filters, by: str, tz: tzinfo | None = None,
          breakdown: bool = False) -> list[dict[str, Any]]:
    """One row per `by` value (per model too with breakdown), ordered by key; `by="all"` is the total."""
    key, key_params = _key(conn, by, filters, tz)
    model = "t.model" if breakdown else "NULL"
    where, params = filters.where("t")
    if by == "model" or breakdown:
        where += " AND t.model IS NOT NULL"  # session-level telemetry (session.count, prompts) has no model
    tokens = ", ".join(f"CASE WHEN t.metric_name = 'claude_code.token.usage' AND t.type = '{k}' "
                       f"THEN t.metric_value END" for k in TOKEN_TYPES)
    sql = f"""
      WITH u (k, model, session_id, timestamp, user, {', '.join(TOKEN_TYPES.values())}, cost, req, err) AS (
        SELECT {key}, {model}, t.session_id, t.timestamp, {USER_EXPR.format(p="t.")},
               {tokens}, CASE WHEN t.metric_name = 'claude_code.cost.usage' THEN t.metric_value END, 0, 0
        FROM metrics t WHERE {where}
        UNION ALL
        SELECT {key}, {model}, t.session_id, t.timestamp, {USER_EXPR.format(p="t.")},
               NULL, NULL, NULL, NULL, NULL, t.event_name = 'claude_code.api_request',
               t.event_name = 'claude_code.api_error'
        FROM events t WHERE {where})
      SELECT k, model, {', '.join(f'SUM({c}) AS {c}' for c in TOKEN_TYPES.values())}, SUM(cost) AS cost_usd,
             COUNT(DISTINCT session_id) AS sessions, SUM(req) AS api_requests, SUM(err) AS errors,
             MIN(timestamp) AS first, MAX(timestamp) AS last, MIN(user) AS user
      FROM u
      GROUP BY k, model ORDER BY k IS NULL, k, model"""
    rows = conn.execute(sql, [*key_params, *params, *key_params, *params]).fetchall()
    return [_usage_row(r, by, breakdown, tz) for r in rows]


def _usage_row(r: sqlite3.Row, by: str, breakdown: bool, tz: tzinfo | None) -> dict[str, Any]:
    name = "period" if by in PERIODS else ("session_id" if by == "session" else by)
    out: dict[str, Any] = {} if by == "all" else {name: r["k"]}
    if breakdown:
        out["model"] = r["model"]
    if by == "session":
        out.update(user=r["user"], start=_local(r["first"], tz), end=_local(r["last"], tz))
    for column in TOKEN_TYPES.values():
        out[column] = int(round(r[column] or 0))
    out["cost_usd"] = round(r["cost_usd"] or 0.0, 6)
    out.update(sessions=r["sessions"], api_requests=r["api_requests"] or 0, errors=r["errors"] or 0)
    return out


def _local(text: str | None, tz: tzinfo | None) -> str | None:
    if text is None:
        return None
    at = _parse(text)
    return (at.astimezone(tz) if tz is not None else at.astimezone()).isoformat(timespec="seconds")


def total(conn: sqlite3.Connection, filters: Filters) -> dict[str, Any]:
    """The whole range as one row (sessions counted once, however many periods they span)."""
    rows = usage(conn, filters, "all")
    return rows[0] if rows else {c: 0 for c in USAGE_COLUMNS}


TOOL_COLUMNS = ("calls", "success_rate", "median_duration_ms", "accepts", "rejects")


def tools(conn: sqlite3.Connection, filters: Filters) -> list[dict[str, Any]]:
    """Per tool: calls and outcomes (`tool_result`), median duration, and permission decisions.

    Decisions are `tool_decision` events; the `code_edit_tool.decision` metric counts the same
    decisions for Edit/Write/NotebookEdit, so per tool the larger of the two counts wins (equal when
    both exporters are on; the metric alone when logs are off). Tool events carry no model, so the
    model filter does not apply here."""
    where, params = filters.where("t", model=False)
    rows = {r["tool"]: dict(r) for r in conn.execute(f"""
      SELECT t.tool_name AS tool, SUM(t.event_name = 'claude_code.tool_result') AS calls,
             SUM(t.event_name = 'claude_code.tool_result' AND t.success = 'true') AS succeeded,
             SUM(t.event_name = 'claude_code.tool_decision' AND t.decision = 'accept') AS accepts,
             SUM(t.event_name = 'claude_code.tool_decision' AND t.decision = 'reject') AS rejects
      FROM events t WHERE {where} AND t.tool_name IS NOT NULL
        AND t.event_name IN ('claude_code.tool_result', 'claude_code.tool_decision')
      GROUP BY t.tool_name""", params)}
    for r in conn.execute(f"""
      SELECT t.tool AS tool, SUM(CASE WHEN t.decision = 'accept' THEN t.metric_value END) AS accepts,
             SUM(CASE WHEN t.decision = 'reject' THEN t.metric_value END) AS rejects
      FROM metrics t WHERE {where} AND t.metric_name = 'claude_code.code_edit_tool.decision'
        AND t.tool IS NOT NULL GROUP BY t.tool""", params):
        row = rows.setdefault(r["tool"], {"tool": r["tool"], "calls": 0, "succeeded": 0, "accepts": 0, "rejects": 0})
        for k in ("accepts", "rejects"):
            row[k] = max(row[k], int(round(r[k] or 0)))
    medians = dict(conn.execute(f"""
      SELECT tool, AVG(d) FROM (
        SELECT t.tool_name AS tool, t.duration_ms AS d,
               ROW_NUMBER() OVER (PARTITION BY t.tool_name ORDER BY t.duration_ms) AS i,
               COUNT(*) OVER (PARTITION BY t.tool_name) AS n
        FROM events t WHERE {where} AND t.event_name = 'claude_code.tool_result'
          AND t.tool_name IS NOT NULL AND t.duration_ms IS NOT NULL)
      WHERE i IN ((n + 1) / 2, (n + 2) / 2) GROUP BY tool""", params).fetchall())
    out = []
    for name in sorted(rows, key=lambda n: (-rows[n]["calls"], n)):
        r = rows[name]
        rate = round(r["succeeded"] / r["calls"], 4) if r["calls"] else None
        out.append({"tool": name, "calls": r["calls"], "success_rate": rate,
                    "median_duration_ms": medians.get(name), "accepts": r["accepts"], "rejects": r["rejects"]})
    return out
