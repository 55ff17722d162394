"""The overview's top row: totals for the selected range.

Token, cost, lines, commit, pull-request and active-time totals are sums over the `metrics` table:
the client's own counters, stored as increments, so SUM is exact whatever the temporality.
"Sessions" is the sum of `session.count` (sessions *started* in the range, as the published design
says; a `--continue` counts as a new start, as the client counts it). Requests and errors count
events. "Active users" are the distinct users of the sessions active in the range (between a
session's first and last activity; every model). Sums come from the hourly rollups where they can.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ccmonitor import telemetry as names
from ccmonitor.queries.filters import Filters
from ccmonitor.queries.rollups import totals, whole
from ccmonitor.queries.sessions import session_where
from ccmonitor.store import Reader


def active_users(conn: Reader, f: Filters) -> int:
    where, params = session_where(conn.sql, replace(f, models=()))
    return conn.execute(f"SELECT COUNT(DISTINCT \"user\") FROM rollup_sessions WHERE {where}", params).fetchone()[0]


def tiles(conn: Reader, f: Filters) -> dict[str, Any]:
    sums = totals(conn, "metrics", f, names.MODEL_METRICS, ("metric_name", "type"))
    sums.update(totals(conn, "metrics", f, names.UNMODELLED_METRICS, ("metric_name", "type"), model=False))

    def total(name: str, kind: str | None = None) -> float:
        return sum(v for (n, k), v in sums.items() if n == name and kind in (None, k))

    tokens = {t: whole(total(names.TOKENS, t)) for t in names.TOKEN_TYPES}
    counts = {k[0]: int(v) for k, v in totals(conn, "events", f, (names.API_REQUEST, names.API_ERROR),
                                                  ("event_name",)).items()}
    return {
        "input_tokens": tokens["input"],
        "output_tokens": tokens["output"],
        "cache_read_tokens": tokens["cacheRead"],
        "cache_creation_tokens": tokens["cacheCreation"],
        "cost_usd": round(total(names.COST), 6),
        "sessions": whole(total(names.SESSIONS)),
        "active_users": active_users(conn, f),
        "lines_added": whole(total(names.LINES, "added")),
        "lines_removed": whole(total(names.LINES, "removed")),
        "commits": whole(total(names.COMMITS)),
        "pull_requests": whole(total(names.PULL_REQUESTS)),
        "active_time_cli_s": round(total(names.ACTIVE_TIME, "cli"), 3),
        "active_time_user_s": round(total(names.ACTIVE_TIME, "user"), 3),
        "api_requests": counts.get(names.API_REQUEST, 0),
        "api_errors": counts.get(names.API_ERROR, 0),
        "cache_hit_ratio": names.cache_hit_ratio(
            tokens["input"], tokens["cacheRead"], tokens["cacheCreation"]),
    }
