"""Adoption (issue #10): how many people use Claude Code, what it costs per person, which versions.

An active user is a user with token or cost usage in a window (queries/team.usage: the user rollup
for whole hours, raw rows for the edges, so any window is exact). DAU, WAU and MAU are the 1, 7 and
30 days ending at the range's end, each against the window of the same length before it; the
range's active users and cost per active user are compared with the range of the same length before
it. `daily` counts the active users of each UTC day of the range. Versions are the `app.version` of
the sessions active in the range (rollup_sessions keeps a session's first version).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from ccmonitor import telemetry as names
from ccmonitor.queries.buckets import dense, iso
from ccmonitor.queries.filters import EARLIEST, Filters
from ccmonitor.queries.sessions import session_where
from ccmonitor.queries.team import DAY, usage
from ccmonitor.store import Reader

WINDOWS = (("dau", 1), ("wau", 7), ("mau", 30))


def before(t: datetime, span: timedelta) -> datetime:
    """t - span, or the earliest time a range may start (a span back from year 1 is no time at all)."""
    try:
        return max(t - span, EARLIEST)
    except OverflowError:
        return EARLIEST


def change(now: float, then: float) -> float | None:
    """The relative change from `then` to `now` (0.25 = +25 %); None when there was nothing before."""
    return (now - then) / then if then else None


def active(conn: Reader, f: Filters) -> tuple[int, float]:
    """(active users, cost) in the range."""
    sums = usage(conn, f, ("user", "metric"))
    users = {u for u, _ in sums if u is not None}
    return len(users), sum(v for (_, metric), v in sums.items() if metric == names.COST)


def adoption(conn: Reader, f: Filters) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, days in WINDOWS:
        span = timedelta(days=days)
        now, _ = active(conn, replace(f, since=before(f.until, span)))
        then, _ = active(conn, replace(f, since=before(f.until, 2 * span), until=before(f.until, span)))
        out[name] = {"users": now, "previous": then, "change": change(now, then)}
    span = f.until - f.since
    users, cost = active(conn, f)
    previous = replace(f, since=before(f.since, span), until=f.since)
    users_then, cost_then = active(conn, previous) if previous.since < previous.until else (0, 0.0)
    per_user = cost / users if users else None
    per_user_then = cost_then / users_then if users_then else None
    out["range"] = {
        "active_users": users, "cost_usd": round(cost, 6), "cost_per_active_user": _round(per_user),
        "previous": {"since": iso_of(previous.since), "until": iso_of(previous.until), "active_users": users_then,
                     "cost_usd": round(cost_then, 6), "cost_per_active_user": _round(per_user_then)},
        "change": {"active_users": change(users, users_then), "cost_usd": change(cost, cost_then),
                   "cost_per_active_user": change(per_user or 0, per_user_then or 0) if per_user_then else None}}
    pairs = usage(conn, f, ("bucket", "user"))
    out["daily"] = dense(f, DAY, [(int(b), "active_users", 1) for b, u in pairs if u is not None], ("active_users",))
    out["versions"] = versions(conn, f)
    return out


def versions(conn: Reader, f: Filters) -> list[dict[str, Any]]:
    """Claude Code versions of the sessions active in the range, newest version first."""
    where, params = session_where(conn.sql, f)
    rows = [{"version": v, "users": users, "sessions": sessions, "last_seen": iso(last)}
            for v, users, sessions, last in conn.execute(
                f'SELECT app_version, COUNT(DISTINCT "user"), COUNT(*), MAX(last_ts) FROM rollup_sessions'
                f" WHERE {where} GROUP BY app_version", params)]
    return sorted(rows, key=lambda r: _version_key(r["version"]), reverse=True)


def _version_key(version: str | None) -> tuple[int, tuple[int, ...], str]:
    if version is None:
        return (0, (), "")
    return (1, tuple(int(n) for n in re.findall(r"\d+", version)), version)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def iso_of(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
