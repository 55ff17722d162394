"""The `ccmonitor report` documents: usage by period (day/week/month in a time zone), user, session and
model, and tool outcomes (issue 5).

Every number has the dashboard's definition, and where the dashboard already has the query it is called
(totals = queries.tiles, models = queries.models, sessions = queries.sessions, tools = queries.tools):
  * tokens and cost: the `token.usage` / `cost.usage` metrics (increments, so SUM is exact);
  * API requests and errors: `api_request` / `api_error` events;
  * sessions: sessions started (`session.count`; it has no model, so the model filter leaves it alone),
    hence the rows of a report add up to its total. Rows split by model have no such count: there,
    sessions are the distinct sessions with token or cost usage of that model.
Local periods: SQLite has no time zones, so the zone's UTC offsets over the data's time range become a
CASE of offsets (a `strftime` modifier `'-480 minutes'` on SQLite, minutes on PostgreSQL: the same SQL
on both, store/dialect.py). Each record lands on the local day, week (starting Monday) or month it
happened in, across DST changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from ccmonitor import telemetry as names
from ccmonitor.queries import adoption, silence, team
from ccmonitor.queries.buckets import stored_time
from ccmonitor.queries.filters import LATEST, USER_EXPR, Filters
from ccmonitor.queries.models import models
from ccmonitor.queries.rollups import whole
from ccmonitor.queries.sessions import list_sessions
from ccmonitor.queries.tiles import tiles
from ccmonitor.queries.tools import edit_decisions, tool_usage
from ccmonitor.store import Reader
from ccmonitor.store.dialect import Dialect
from ccmonitor.telemetry import utc_text

PERIODS = ("day", "week", "month")
USAGE_COLUMNS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens", "cost_usd",
                 "sessions", "api_requests", "api_errors")
TOKEN_COLUMNS = dict(zip(names.TOKEN_TYPES, USAGE_COLUMNS[:4], strict=True))  # cacheRead -> cache_read_tokens
_SCAN_STEP = 12 * 3600  # no zone changes its offset twice within 12 hours
# Offsets are looked up until here; a record after it (a sender's clock centuries off, a hand-typed year
# 9999) gets the offset in force then: scanning to 9999 would take seconds and a CASE of 16,000 WHENs.
SCAN_UNTIL = datetime(2200, 1, 1, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def _offset_minutes(tz: tzinfo | None, epoch: int) -> int:
    """UTC offset at an instant; tz None = the machine's local zone (honours TZ)."""
    at = datetime.fromtimestamp(epoch, UTC)
    local = at.astimezone(tz) if tz is not None else at.astimezone()
    return int(local.utcoffset().total_seconds()) // 60  # type: ignore[union-attr]


def offset_spans(tz: tzinfo | None, lo: datetime, hi: datetime) -> list[tuple[str | None, int]]:
    """[(UTC text before which the offset applies, or None for the last span), offset minutes]."""
    t, end = (int(min(at, SCAN_UNTIL).timestamp()) for at in (lo, hi))
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


def local_modifier(sql: Dialect, column: str, spans: list[tuple[str | None, int]]) -> tuple[str, list[object]]:
    """SQL evaluating to the UTC offset (Dialect.offset_param) that turns `column` into local time."""
    if len(spans) == 1:
        return "?", [sql.offset_param(spans[0][1])]
    case, params = "CASE", []
    for before, minutes in spans[:-1]:
        case += f" WHEN {column} < ? THEN ?"
        params += [before, sql.offset_param(minutes)]
    return case + " ELSE ? END", [*params, sql.offset_param(spans[-1][1])]


def _bounds(conn: Reader, filters: Filters) -> tuple[datetime, datetime]:
    """The first and last record in the filter's range (the span the offsets must cover)."""
    lows, highs = [], []
    for table in ("metrics", "events"):
        lo, hi = conn.execute(
            f"SELECT MIN(timestamp), MAX(timestamp) FROM {table} WHERE timestamp >= ? AND timestamp < ?",
            (utc_text(filters.since), utc_text(filters.until))).fetchone()
        lows += [lo] if lo else []
        highs += [hi] if hi else []
    if not lows:
        return filters.since, filters.since
    lo, hi = stored_time(min(lows)) or filters.since, stored_time(max(highs)) or filters.until
    return lo, min(hi, LATEST - SECOND) + SECOND


def _key(conn: Reader, by: str, filters: Filters, tz: tzinfo | None) -> tuple[str, list[object]]:
    if by in PERIODS:
        modifier, params = local_modifier(conn.sql, "t.timestamp", offset_spans(tz, *_bounds(conn, filters)))
        return conn.sql.local_period(by, "t.timestamp", modifier), params
    return {"session": "t.session_id", "model": "t.model", "user": USER_EXPR.format(p="t.")}[by], []


_TOKENS = ", ".join(f"CASE WHEN t.metric_name = '{names.TOKENS}' AND t.type = '{k}' THEN t.metric_value END"
                    for k in names.TOKEN_TYPES)
_USAGE = """
  WITH u (k, model, session_id, {tokens}, cost, started, requests, errors) AS (
    SELECT {key}, {model}, t.session_id, {token_values},
           CASE WHEN t.metric_name = '{cost}' THEN t.metric_value END, CAST(NULL AS DOUBLE PRECISION), 0, 0
    FROM metrics t WHERE t.metric_name IN ('{token}', '{cost}') AND {modelled} {started}
    UNION ALL SELECT {key}, {model}, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           CASE WHEN t.event_name = '{request}' THEN 1 ELSE 0 END, CASE WHEN t.event_name = '{error}' THEN 1 ELSE 0 END
    FROM events t WHERE t.event_name IN ('{request}', '{error}') AND {modelled})
  SELECT k, model, {sums}, {cost_sum} AS cost_usd, {started_sum} AS started, COUNT(DISTINCT session_id) AS used,
         SUM(requests) AS api_requests, SUM(errors) AS api_errors
  FROM u GROUP BY k, model ORDER BY k IS NULL, k, model"""
_STARTED = """
    UNION ALL SELECT {key}, {started_set}, NULL, NULL, NULL, NULL, NULL, NULL, t.metric_value, 0, 0
    FROM metrics t WHERE t.metric_name = '{sessions}' AND {unmodelled}"""


def usage(conn: Reader, filters: Filters, by: str, tz: tzinfo | None = None,
          breakdown: bool = False, group: str | None = None) -> list[dict[str, Any]]:
    """One row per `by` value (split per model with breakdown, or per value of the custom attribute
    `group`: queries/team.py's groups), ordered by key."""
    split = breakdown or by == "model"
    if group is not None and split:
        raise ValueError("a report is split by model or by a custom attribute, not both")
    key, kp = _key(conn, by, filters, tz)
    modelled, mp = filters.where(conn.sql, "t")
    unmodelled, up = filters.where(conn.sql, "t", model=False)
    # by a custom attribute: the model column carries the row's attribute set, folded into groups below
    set_expr = f"COALESCE({conn.sql.set_of('t.')}, 0)" if group else "NULL"
    started = "" if split else _STARTED.format(key=key, sessions=names.SESSIONS, unmodelled=unmodelled,
                                               started_set=set_expr)
    sql = _USAGE.format(
        tokens=", ".join(TOKEN_COLUMNS.values()), key=key, model="t.model" if split else set_expr,
        token_values=_TOKENS, cost=names.COST, token=names.TOKENS, modelled=modelled, started=started,
        request=names.API_REQUEST, error=names.API_ERROR,
        sums=", ".join(f"{conn.sql.total(c)} AS {c}" for c in TOKEN_COLUMNS.values()),
        cost_sum=conn.sql.total("cost"), started_sum=conn.sql.total("started"))
    params = [*kp, *mp, *([] if split else [*kp, *up]), *kp, *mp]
    name = "period" if by in PERIODS else ("session_id" if by == "session" else by)
    out = []
    for r in conn.execute(sql, params):
        row: dict[str, Any] = {name: r["k"], "model": r["model"] or "unknown"} if split else {name: r["k"]}
        row.update({c: whole(r[c] or 0) for c in TOKEN_COLUMNS.values()})
        row["cost_usd"] = round(r["cost_usd"] or 0.0, 6)
        row["sessions"] = r["used"] if split else whole(r["started"] or 0)
        row.update(api_requests=r["api_requests"] or 0, api_errors=r["api_errors"] or 0)
        if group is not None:
            row = {name: r["k"], "group": r["model"], **{c: v for c, v in row.items() if c != name}}
        out.append(row)
    return out if group is None else _fold_groups(conn, out, name, group)


def _fold_groups(conn: Reader, rows: list[dict[str, Any]], name: str, by: str) -> list[dict[str, Any]]:
    """Rows per (key, attribute set) added up per (key, group)."""
    groups = team.groups_of(conn, by)
    out: dict[tuple[Any, str], dict[str, Any]] = {}
    for row in rows:
        group = groups.get(int(row["group"] or 0), team.NONE)
        into = out.setdefault((row[name], group), {name: row[name], "group": group})
        for column, value in row.items():
            if column not in (name, "group"):
                into[column] = into.get(column, 0) + value
    for row in out.values():
        row["cost_usd"] = round(row["cost_usd"], 6)
    return [out[k] for k in sorted(out, key=lambda k: (k[0] is None, str(k[0]), k[1]))]


def total(conn: Reader, filters: Filters) -> dict[str, Any]:
    """The whole range: the dashboard's top-row tiles, restricted to the report's columns."""
    top = tiles(conn, filters)
    return {c: top[c] for c in USAGE_COLUMNS}


def by_model(conn: Reader, filters: Filters) -> list[dict[str, Any]]:
    """The dashboard's per-model table in report columns, plus the sessions that used each model."""
    used = {r["model"]: r["sessions"] for r in usage(conn, filters, "model")}
    return [{"model": m["model"], **{c: m[t] for t, c in TOKEN_COLUMNS.items()}, "cost_usd": m["cost_usd"],
             "sessions": used.get(m["model"], 0), "api_requests": m["requests"], "api_errors": m["errors"],
             "p50_ms": m["p50_ms"], "p95_ms": m["p95_ms"], "cache_hit_ratio": m["cache_hit_ratio"]}
            for m in models(conn, filters)]


_SESSION_KEYS = ("session_id", "user", "start", "end", "duration_s", "terminal", "prompts")


def by_session(conn: Reader, filters: Filters, page: int = 10_000) -> list[dict[str, Any]]:
    """The dashboard's session list (newest first, every page), with tokens split by type.

    Pages are large because each one re-reads the range (OFFSET) and names its ids in one IN list
    (SQLite allows 32,766 parameters)."""
    split = {r["session_id"]: r for r in usage(conn, filters, "session")}
    out: list[dict[str, Any]] = []
    offset = 0
    while True:
        listed = list_sessions(conn, filters, limit=page, offset=offset)
        for s in listed["sessions"]:
            u = split.get(s["session_id"], {})
            out.append({**{k: s[k] for k in _SESSION_KEYS}, **{c: u.get(c, 0) for c in TOKEN_COLUMNS.values()},
                        "cost_usd": s["cost_usd"], "sessions": u.get("sessions", 0),
                        **{k: s[k] for k in ("api_requests", "api_errors", "lines_added", "lines_removed")}})
        if not listed["has_more"]:
            return out
        offset += page


def by_user(conn: Reader, filters: Filters, by: str | None = None) -> list[dict[str, Any]]:
    """The users leaderboard (queries/team.py), most expensive first: per user its usage columns and
    the leaderboard's; with `by`, one leaderboard row per group of that custom attribute instead."""
    board = team.leaderboard(conn, filters, by)
    if by is not None:
        return board["groups"]  # type: ignore[no-any-return]
    split = {r["user"]: r for r in usage(conn, filters, "user")}
    leaders = {r["user"]: r for r in board["users"]}
    empty = team.Tally().row()  # users with API requests or errors only

    def row(user: str | None) -> dict[str, Any]:
        u, lead = split.get(user, {}), leaders.get(user, empty)
        return {"user": user, **{c: u.get(c, 0) for c in TOKEN_COLUMNS.values()}, "cost_usd": lead["cost_usd"],
                "sessions": lead["sessions"], "api_requests": u.get("api_requests", 0),
                "api_errors": u.get("api_errors", 0),
                **{c: lead[c] for c in team.LEADERBOARD if c not in ("cost_usd", "sessions")}}

    return team.by_cost([row(user) for user in {**leaders, **split}], "user")


@dataclass(frozen=True)
class Report:
    name: str
    title: str
    help: str


REPORT_LIST = (
    Report("daily", "Daily usage", "Usage per local day."),
    Report("weekly", "Weekly usage (weeks start Monday)", "Usage per week (Monday to Sunday, local)."),
    Report("monthly", "Monthly usage", "Usage per local month."),
    Report("sessions", "Usage by session", "Usage per Claude Code session, newest first."),
    Report("models", "Usage by model", "Usage per model, with API latency and cache-hit ratio."),
    Report("users", "Users leaderboard", "Per user, most expensive first: usage, active days, lines, edit "
                                         "accept rate, commits and PRs, last seen (--by KEY: per group)."),
    Report("tools", "Tool usage", "Tool calls, success rate, median duration, accept/reject decisions."),
    Report("adoption", "Adoption", "Daily, weekly and monthly active users, cost per active user, change "
                                   "against the previous period, Claude Code versions in use."),
    Report("silent", "Who stopped reporting", "Users and machines silent for --days N, clients that sent "
                                              "only logs or only metrics."),
)
CATALOGUE = {r.name: r for r in REPORT_LIST}
REPORTS = tuple(CATALOGUE)
GROUPED = ("daily", "weekly", "monthly", "users")  # the reports --by KEY applies to
_PERIOD_OF = {"daily": "day", "weekly": "week", "monthly": "month"}


def report(conn: Reader, name: str, filters: Filters, tz: tzinfo | None = None,
           breakdown: bool = False, by: str | None = None, days: int = silence.DEFAULT_DAYS) -> dict[str, Any]:
    """The document `ccmonitor report NAME --json` prints: its rows and the whole range's total."""
    doc: dict[str, Any] = {"report": name, "tz": zone_name(tz)}
    if by is not None:
        if name not in GROUPED:
            raise ValueError(f"--by applies to {', '.join(GROUPED)}, not {name}")
        if breakdown:
            raise ValueError("--by and --breakdown do not go together: one splits by model, the other by group")
        doc["by"] = by
    if name == "tools":
        return {**doc, "rows": tool_usage(conn, filters), "edit_decisions": edit_decisions(conn, filters),
                "total": None}
    if name == "adoption":
        return {**doc, **adoption_rows(conn, filters), "total": None}
    if name == "silent":
        found = silence.silence(conn, filters, days)
        return {**doc, "days": days, "rows": found["users"], "machines": found["machines"],
                "tokens_in_use": found["tokens_in_use"], "one_signal": found["one_signal"], "total": None}
    if name == "users" and not breakdown:
        rows = by_user(conn, filters, by)
    elif name in _PERIOD_OF or name == "users":
        rows = usage(conn, filters, _PERIOD_OF.get(name, "user"), tz, breakdown, by)
    elif name == "models":
        rows = by_model(conn, filters)
    elif name == "sessions":
        rows = by_session(conn, filters)
    else:
        raise ValueError(f"unknown report {name!r}; choose one of {', '.join(REPORTS)}")
    return {**doc, "rows": rows, "total": total(conn, filters)}


def adoption_rows(conn: Reader, filters: Filters) -> dict[str, Any]:
    """queries/adoption.py as report rows: one per measure, with the previous period and the change."""
    doc = adoption.adoption(conn, filters)
    rows = [{"measure": name.upper(), "value": doc[name]["users"], "previous": doc[name]["previous"],
             "change": doc[name]["change"]} for name, _ in adoption.WINDOWS]
    now, then = doc["range"], doc["range"]["previous"]
    rows += [{"measure": label, "value": now[key], "previous": then[key], "change": now["change"][key]}
             for key, label in (("active_users", "active users (range)"), ("cost_usd", "cost (range)"),
                                ("cost_per_active_user", "cost per active user"))]
    return {"rows": rows, "versions": doc["versions"], "daily": doc["daily"]}


def zone_name(tz: tzinfo | None) -> str:
    return "local" if tz is None else str(getattr(tz, "key", None) or tz)
