"""Who stopped reporting (issue #10): users and machines seen before but silent for N days, and
clients whose sessions sent only logs or only metrics.

All three read `rollup_sessions` (a session's first and last activity: its session.count and
active_time points and its prompts), never the raw range. A machine is a token: the server adds the
token's name to everything it sends as the resource attribute MACHINE_KEY (credentials.TOKEN_ATTRIBUTE;
queries import nothing but store and telemetry, a test keeps the two equal). Where no token is in use
nothing names a machine: Claude Code sends no `host.name` (TELEMETRY.md), so `machines` is empty and
`tokens_in_use` false; the users list still answers.

"Silent" is relative to the range's end: last seen before `until - days`, among sessions that started
before `until`. A client is a (user, Claude Code version) with sessions active in those last N days:
`missing` names the signal none of them sent (`metrics`: logs only; `logs`: metrics only). Sessions
whose metrics come without a session id (OTEL_METRICS_INCLUDE_SESSION_ID=false) look like logs only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ccmonitor.queries.adoption import before
from ccmonitor.queries.buckets import iso, stored_time
from ccmonitor.queries.filters import Filters
from ccmonitor.store import Reader
from ccmonitor.telemetry import utc_text

MACHINE_KEY = "ccmonitor.token"
DEFAULT_DAYS = 7
MAX_DAYS = 3650


def _conditions(conn: Reader, f: Filters, alias: str = "") -> tuple[list[str], list[object]]:
    """User, terminal and attribute filters on rollup_sessions (the range is the caller's)."""
    p = f"{alias}." if alias else ""
    where: list[str] = []
    params: list[object] = []
    for column, values in ((f'{p}"user"', f.users), (f"{p}terminal_type", f.terminals)):
        if values:
            where.append(f"{column} IN ({', '.join('?' * len(values))})")
            params += values
    if f.attributes:
        sets, set_params = f.attribute_sets(conn.sql)
        where.append(f"{conn.sql.session_set(p + 'session_id')} IN ({sets})")
        params += set_params
    return where, params


def _silent_for(last: str, until: datetime) -> float | None:
    seen = stored_time(last)
    return round((until - seen).total_seconds() / 86400, 1) if seen else None


def silent_users(conn: Reader, f: Filters, cutoff: datetime) -> list[dict[str, Any]]:
    where, params = _conditions(conn, f)
    rows = conn.execute(
        f'SELECT "user", MAX(last_ts), COUNT(*) FROM rollup_sessions WHERE {" AND ".join(["first_ts < ?", *where])}'
        ' AND "user" IS NOT NULL GROUP BY "user" HAVING MAX(last_ts) < ? ORDER BY 2 DESC, 1',
        [utc_text(f.until), *params, utc_text(cutoff)])
    return [{"user": u, "last_seen": iso(last), "days_silent": _silent_for(last, f.until), "sessions": n}
            for u, last, n in rows]


def machines(conn: Reader, f: Filters, cutoff: datetime | None) -> list[dict[str, Any]]:
    """Tokens with their last activity; only those silent since `cutoff` unless it is None."""
    where, params = _conditions(conn, f, "s")
    member, key = conn.sql.json_member("a.attributes"), conn.sql.json_key(MACHINE_KEY)
    having = " HAVING MAX(s.last_ts) < ?" if cutoff else ""
    rows = conn.execute(
        f"SELECT {member}, MAX(s.last_ts), COUNT(DISTINCT s.\"user\") FROM rollup_sessions s"
        " JOIN session_attribute_sets m ON m.session = s.session_id JOIN attribute_sets a ON a.id = m.attribute_set"
        f" WHERE {' AND '.join([f'{member} IS NOT NULL', 's.first_ts < ?', *where])}"
        f" GROUP BY 1{having} ORDER BY 2 DESC, 1",
        [key, key, utc_text(f.until), *params, *([utc_text(cutoff)] if cutoff else [])])
    return [{"machine": str(m), "last_seen": iso(last), "days_silent": _silent_for(last, f.until), "users": n}
            for m, last, n in rows]


def one_signal(conn: Reader, f: Filters, since: datetime) -> list[dict[str, Any]]:
    """(user, version) pairs active since `since` whose sessions sent only one of logs and metrics."""
    where, params = _conditions(conn, f, "s")
    span = [utc_text(since), utc_text(f.until)]
    sent = {t: f"CASE WHEN EXISTS (SELECT 1 FROM {t} x WHERE x.session_id = s.session_id AND x.timestamp >= ?"
               " AND x.timestamp < ?) THEN 1 ELSE 0 END" for t in ("metrics", "events")}
    rows = conn.execute(
        f'SELECT s."user", s.app_version, COUNT(*), SUM({sent["events"]}), SUM({sent["metrics"]}), MAX(s.last_ts)'
        f" FROM rollup_sessions s WHERE {' AND '.join(['s.last_ts >= ?', 's.first_ts < ?', *where])}"
        " GROUP BY 1, 2 ORDER BY 6 DESC", [*span, *span, *span, *params])
    out = []
    for user, version, sessions, with_logs, with_metrics, last in rows:
        if bool(with_logs) != bool(with_metrics):
            out.append({"user": user, "version": version, "sessions": sessions, "with_logs": int(with_logs),
                        "with_metrics": int(with_metrics), "missing": "logs" if with_metrics else "metrics",
                        "last_seen": iso(last)})
    return out


def silence(conn: Reader, f: Filters, days: int = DEFAULT_DAYS) -> dict[str, Any]:
    cutoff = before(f.until, timedelta(days=days))
    return {"days": days, "silent_since": iso(utc_text(cutoff)), "users": silent_users(conn, f, cutoff),
            "machine_key": MACHINE_KEY, "tokens_in_use": bool(machines(conn, f, None)),
            "machines": machines(conn, f, cutoff), "one_signal": one_signal(conn, f, cutoff)}
