"""What the filter dropdowns offer: users, models, terminals and custom resource attributes seen in
the selected range.

Custom attributes are the keys users add with OTEL_RESOURCE_ATTRIBUTES (team, department, ...): the
resource is the same on every record of a session, so the first metric row of each session in the
range is read, and the resource keys every OTel SDK or Claude Code sets are left out.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ccmonitor.queries.filters import ATTRIBUTE_KEY, USER_EXPR, Filters

STANDARD_PREFIXES = ("host.", "os.", "service.", "otel.", "anthropic.", "telemetry.", "process.",
                     "resource.", "deployment.", "container.", "k8s.", "cloud.")
POINT_KEYS = frozenset({"start_type", "query_source", "effort", "speed", "source", "tool_name",
                        "decision", "language", "model", "type"})
MAX_VALUES = 200


def _distinct(conn: sqlite3.Connection, expr: str, f: Filters, tables: tuple[str, ...]) -> list[str]:
    where, params = f.where()
    union = " UNION ".join(f"SELECT DISTINCT {expr} AS v FROM {t} WHERE {where}" for t in tables)
    rows = conn.execute(f"SELECT v FROM ({union}) WHERE v IS NOT NULL ORDER BY v LIMIT ?",
                        [*params * len(tables), MAX_VALUES])
    return [r[0] for r in rows]


def users(conn: sqlite3.Connection, f: Filters) -> list[dict[str, Any]]:
    where, params = f.where()
    rows = conn.execute(
        f"SELECT {USER_EXPR.format(p='')} AS uid, MAX(user_email), MAX(account_uuid), MAX(user_id)"
        f" FROM metrics WHERE {where} GROUP BY 1 HAVING uid IS NOT NULL ORDER BY 1 LIMIT ?",
        [*params, MAX_VALUES])
    return [{"id": r[0], "email": r[1], "account_uuid": r[2], "user_id": r[3]} for r in rows]


def attributes(conn: sqlite3.Connection, f: Filters) -> dict[str, list[str]]:
    where, params = f.where()
    rows = conn.execute(
        "SELECT j.key, j.value FROM metrics m, json_each(m.custom_attributes) j WHERE m.id IN"
        f" (SELECT MIN(id) FROM metrics WHERE {where} GROUP BY session_id)"
        " AND j.type = 'text' GROUP BY j.key, j.value ORDER BY j.key, j.value", params)
    out: dict[str, list[str]] = {}
    for key, value in rows:
        if key in POINT_KEYS or key.startswith(STANDARD_PREFIXES) or not ATTRIBUTE_KEY.match(key):
            continue
        values = out.setdefault(key, [])
        if len(values) < MAX_VALUES:
            values.append(value)
    return out


def facets(conn: sqlite3.Connection, f: Filters) -> dict[str, Any]:
    """Only the time range narrows the choices: picking one user must still offer the others."""
    f = Filters(since=f.since, until=f.until)
    return {
        "users": users(conn, f),
        "models": _distinct(conn, "model", f, ("metrics", "events")),
        "terminals": _distinct(conn, "terminal_type", f, ("metrics",)),
        "attributes": attributes(conn, f),
    }
