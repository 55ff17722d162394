"""Custom resource attributes (team, department, ...) as something the dashboard can filter by fast
(migration 0004).

A record's attribute set is the custom keys of its sender's resource (otlp/origin.py), interned in
`attribute_sets` and stored as the row's `attribute_set` (0: none). Sessions are mapped too, in
`session_attribute_sets` (the first set seen for a session wins; a resource only changes when the
process restarts), for the session list and the filter choices. A filter such as `team=platform`
picks the matching sets in the small `attribute_sets` table; the hourly `rollup_*_sets` tables hold
the same sums as migration 0002's rollups, split by set (rows without custom attributes are left out:
no such filter can select them), so a filtered 30-day range reads the rollups of its sets instead of
every row and its JSON. Rows without a session id (OTEL_METRICS_INCLUDE_SESSION_ID=false) still have
their set.

Rows stored before 0004 keep a NULL `attribute_set` (no rewrite of the tables) and take their
session's, which migration 0004 read from the session's first record (store/sqlite/schema.py).
"""

from __future__ import annotations

import sqlite3

from ccmonitor.store.aggregates import Rollup
from ccmonitor.store.histograms import DURATIONS


def session_set(session_id: str) -> str:
    """The set of the session in column `session_id` (NULL if it has none)."""
    return f"(SELECT attribute_set FROM session_attribute_sets WHERE session = {session_id})"


def set_of(row: str = "") -> str:
    """A row's set: its own (stored since 0004), else its session's (rows stored before). `row`
    qualifies the columns ('NEW.'; '' in a query on the table). The unary + keeps a time or user
    index in charge of a filtered query: a lookup per row beats probing per set."""
    return f"COALESCE(+{row}attribute_set, {session_set(row + 'session_id')})"


SET_OF = set_of("{r}.")
IN_A_SET = f"{SET_OF} != 0"

def _by_set(name: str, source: str, keys: tuple[str, ...], total: tuple[str, str], *value: str) -> Rollup:
    return Rollup(name=name, source=source, total=total, when=IN_A_SET,
                  watched=("timestamp", "session_id", "attribute_set", *keys, *value),
                  keys=(("attribute_set", SET_OF), ("hour", "substr({r}.timestamp, 1, 13) || ':00:00.000'"),
                        *((k, "{r}." + k) for k in keys)))


METRICS = _by_set("rollup_metrics_sets", "metrics", ("metric_name", "type", "model", "tool", "decision", "language"),
                  ("value", "{r}.metric_value"), "metric_value")
EVENTS = _by_set("rollup_events_sets", "events", ("event_name", "model", "tool_name", "success", "decision"),
                 ("n", "1"))
DURATIONS_SETS = Rollup(name="rollup_durations_sets", source="events", total=DURATIONS.total,
                        keys=(("attribute_set", SET_OF), *DURATIONS.keys),
                        when=f"{DURATIONS.when} AND {IN_A_SET}",
                        watched=(*DURATIONS.watched, "session_id", "attribute_set"))
ROLLUPS = (METRICS, EVENTS, DURATIONS_SETS)


def record_sessions(conn: sqlite3.Connection, attribute_sets: dict[int, str], session_sets: dict[str, int]) -> None:
    """The writer's part, before its rollup refresh: intern new sets, map new sessions."""
    if attribute_sets:
        conn.executemany("INSERT OR IGNORE INTO attribute_sets VALUES (?, ?)", attribute_sets.items())
    if session_sets:
        conn.executemany("INSERT OR IGNORE INTO session_attribute_sets VALUES (?, ?)", session_sets.items())
