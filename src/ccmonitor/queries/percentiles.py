"""Exact percentiles in SQL (nearest-rank: the value at rank ceil(p/100 * n) in ascending order), per
group. Window functions do the ranking inside SQLite, so only one row per group and percentile
comes back, whatever the range."""

from __future__ import annotations

import sqlite3
from typing import Any


def percentiles(conn: sqlite3.Connection, group: str, value: str, source: str, params: list[object],
                ps: tuple[int, ...] = (50, 95)) -> dict[Any, dict[str, Any]]:
    """{group value: {"count": n, "p50": .., "p95": ..}} for `value` over `source` (a FROM ... WHERE
    fragment written by our own code, never user text), rows with a NULL value left out."""
    ranks = " OR ".join(f"i = (n * {int(p)} + 99) / 100" for p in ps)
    sql = (
        f"WITH r AS (SELECT {group} AS g, {value} AS v,"
        f" ROW_NUMBER() OVER (PARTITION BY {group} ORDER BY {value}) AS i,"
        f" COUNT(*) OVER (PARTITION BY {group}) AS n {source} AND {value} IS NOT NULL)"
        f" SELECT g, n, i, v FROM r WHERE {ranks}"
    )
    out: dict[Any, dict[str, Any]] = {}
    for g, n, i, v in conn.execute(sql, params):
        entry = out.setdefault(g, {"count": n})
        for p in ps:
            if i == (n * p + 99) // 100:
                entry[f"p{p}"] = v
    return out
