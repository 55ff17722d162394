"""The overview's top row: totals for the selected range.

Token, cost, lines, commit, pull-request and active-time totals are sums over the `metrics` table:
the client's own counters, stored as increments, so SUM is exact whatever the temporality.
"Sessions" is the sum of `session.count` (sessions *started* in the range, as the published design
says; a `--continue` counts as a new start, as the client counts it). Requests and errors count
events. "Active users" are distinct users with any metric in the range.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ccmonitor.queries import names
from ccmonitor.queries.filters import USER_EXPR, Filters


def _metric_sums(conn: sqlite3.Connection, f: Filters, metric_names: tuple[str, ...],
                 model: bool) -> dict[tuple[str, str | None], float]:
    where, params = f.where(model=model)
    marks = ", ".join("?" * len(metric_names))
    rows = conn.execute(
        f"SELECT metric_name, type, SUM(metric_value) FROM metrics"
        f" WHERE metric_name IN ({marks}) AND {where} GROUP BY metric_name, type",
        [*metric_names, *params],
    )
    return {(name, kind): total or 0 for name, kind, total in rows}


def _event_counts(conn: sqlite3.Connection, f: Filters) -> dict[str, int]:
    where, params = f.where()
    rows = conn.execute(
        f"SELECT event_name, COUNT(*) FROM events WHERE event_name IN (?, ?) AND {where} GROUP BY event_name",
        [names.API_REQUEST, names.API_ERROR, *params],
    )
    return dict(rows.fetchall())


def active_users(conn: sqlite3.Connection, f: Filters) -> int:
    where, params = f.where()
    sql = f"SELECT COUNT(DISTINCT {USER_EXPR.format(p='')}) FROM metrics WHERE {where}"
    return conn.execute(sql, params).fetchone()[0]


def tiles(conn: sqlite3.Connection, f: Filters) -> dict[str, Any]:
    sums = _metric_sums(conn, f, names.MODEL_METRICS, model=True)
    sums.update(_metric_sums(conn, f, names.UNMODELLED_METRICS, model=False))

    def total(name: str, kind: str | None = None) -> float:
        if kind is not None:
            return sums.get((name, kind), 0)
        return sum(v for (n, _), v in sums.items() if n == name)

    tokens = {t: int(total(names.TOKENS, t)) for t in names.TOKEN_TYPES}
    counts = _event_counts(conn, f)
    return {
        "input_tokens": tokens["input"],
        "output_tokens": tokens["output"],
        "cache_read_tokens": tokens["cacheRead"],
        "cache_creation_tokens": tokens["cacheCreation"],
        "cost_usd": round(total(names.COST), 6),
        "sessions": int(total(names.SESSIONS)),
        "active_users": active_users(conn, f),
        "lines_added": int(total(names.LINES, "added")),
        "lines_removed": int(total(names.LINES, "removed")),
        "commits": int(total(names.COMMITS)),
        "pull_requests": int(total(names.PULL_REQUESTS)),
        "active_time_cli_s": round(total(names.ACTIVE_TIME, "cli"), 3),
        "active_time_user_s": round(total(names.ACTIVE_TIME, "user"), 3),
        "api_requests": counts.get(names.API_REQUEST, 0),
        "api_errors": counts.get(names.API_ERROR, 0),
        "cache_hit_ratio": names.cache_hit_ratio(
            tokens["input"], tokens["cacheRead"], tokens["cacheCreation"]),
    }
