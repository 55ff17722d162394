"""What the filter dropdowns offer: users, models, terminals and custom resource attributes seen in
the selected range.

Users, terminals and attributes are those of the sessions active in the range (`rollup_sessions`);
custom attributes are the keys users add with OTEL_RESOURCE_ATTRIBUTES (team, department, ...): the
attribute sets of those sessions (store/attribute_sets.py).
Models come from the hourly rollups (the hours the range touches).
"""

from __future__ import annotations

from typing import Any

from ccmonitor.queries.filters import ATTRIBUTE_KEY, Filters
from ccmonitor.queries.sessions import session_where
from ccmonitor.store import Reader
from ccmonitor.telemetry import utc_text

MAX_VALUES = 200


def users(conn: Reader, f: Filters) -> list[dict[str, Any]]:
    where, params = session_where(conn.sql, f)
    rows = conn.execute(f"SELECT DISTINCT \"user\" FROM rollup_sessions WHERE {where} AND \"user\" IS NOT NULL"
                        " ORDER BY 1 LIMIT ?", [*params, MAX_VALUES])
    return [{"id": r[0]} for r in rows]


def terminals(conn: Reader, f: Filters) -> list[str]:
    where, params = session_where(conn.sql, f)
    rows = conn.execute(f"SELECT DISTINCT terminal_type FROM rollup_sessions WHERE {where}"
                        " AND terminal_type IS NOT NULL ORDER BY 1 LIMIT ?", [*params, MAX_VALUES])
    return [r[0] for r in rows]


def models(conn: Reader, f: Filters) -> list[str]:
    hours = [utc_text(f.since.replace(minute=0, second=0, microsecond=0)), utc_text(f.until)]
    union = " UNION ".join(f"SELECT model FROM rollup_{t} WHERE hour >= ? AND hour < ? AND model != ''"
                           for t in ("metrics", "events"))
    return [r[0] for r in conn.execute(f"{union} ORDER BY 1 LIMIT ?", [*hours, *hours, MAX_VALUES])]


def attributes(conn: Reader, f: Filters) -> dict[str, list[str]]:
    where, params = session_where(conn.sql, f)
    members, is_text = conn.sql.json_text_members("a.attributes")
    rows = conn.execute(
        f"SELECT j.key, j.value FROM attribute_sets a, {members} WHERE a.id IN"
        f" (SELECT attribute_set FROM session_attribute_sets WHERE session IN (SELECT session_id"
        f" FROM rollup_sessions WHERE {where})) AND {is_text} GROUP BY j.key, j.value"
        " ORDER BY j.key, j.value", params)
    out: dict[str, list[str]] = {}
    for key, value in rows:
        if not ATTRIBUTE_KEY.match(key):
            continue
        values = out.setdefault(key, [])
        if len(values) < MAX_VALUES:
            values.append(value)
    return out


def facets(conn: Reader, f: Filters) -> dict[str, Any]:
    """Only the time range narrows the choices: picking one user must still offer the others."""
    f = Filters(since=f.since, until=f.until)
    return {"users": users(conn, f), "models": models(conn, f), "terminals": terminals(conn, f),
            "attributes": attributes(conn, f)}
