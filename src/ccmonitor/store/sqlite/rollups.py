"""What the SQLite writer adds to the rollups in each transaction (the tables and their delete/update
triggers are the migrations', store/sqlite/migrations/).

Inserts reach the rollups through refresh_rollups(): one grouped upsert per rollup over the rows the
transaction added (id > the transaction's first id), run by the writer inside that same transaction,
so the rollups stay exact and the cost is per hour-and-key group instead of per row (a trigger
statement per stored row halved the writer's rate, migration 0003). Rows inserted by hand bypass the
rollups. These statements may change with the running code; the migrations never do.
"""

from __future__ import annotations

import sqlite3

from ccmonitor.store import attribute_sets, histograms
from ccmonitor.store.aggregates import Rollup
from ccmonitor.telemetry import COST, TOKENS

ROLLUP_KEYS = {
    "metrics": ("metric_name", "type", "model", "tool", "decision", "language"),
    "events": ("event_name", "model", "tool_name", "success", "decision"),
}
ROLLUP_SUMS = {"metrics": ("metric_value", "value"), "events": ("1", "n")}  # raw expression -> rollup column
SESSION_MARKS = {  # the records that move a session's first/last activity
    "metrics": "metric_name IN ('claude_code.session.count', 'claude_code.active_time.total')",
    "events": "event_name = 'claude_code.user_prompt'",
}


def _hourly(table: str) -> Rollup:
    """The hourly rollup of migration 0002 as a Rollup."""
    expr, total = ROLLUP_SUMS[table]
    return Rollup(name=f"rollup_{table}", source=table, total=(total, expr if expr == "1" else "{r}." + expr),
                  keys=(("hour", "substr({r}.timestamp, 1, 13) || ':00:00.000'"),
                        *((k, "{r}." + k) for k in ROLLUP_KEYS[table])))


def _sessions(table: str) -> str:
    return ("INSERT INTO rollup_sessions SELECT session_id, MIN(timestamp), MAX(timestamp),"
            " MAX(COALESCE(user_email, account_uuid, user_id)), MAX(terminal_type), MAX(app_version),"
            f" MIN(custom_attributes) FROM {table} WHERE id > ? AND session_id IS NOT NULL AND {SESSION_MARKS[table]}"
            " GROUP BY session_id ON CONFLICT DO UPDATE SET first_ts = min(first_ts, excluded.first_ts),"
            " last_ts = max(last_ts, excluded.last_ts), user = COALESCE(user, excluded.user)")


# Migration 0006: cost and tokens per hour, user and model, for a per-user view (Grafana's "Cost by user").
# The attribute set is a key too (0: none), so a team filter reads it as well: a user is nearly always in
# one team, so it adds few rows. Only two metrics: the rest has no per-user panel, and this stays small.
USERS = Rollup(name="rollup_metrics_users", source="metrics", total=("value", "{r}.metric_value"),
               keys=(("hour", "substr({r}.timestamp, 1, 13) || ':00:00.000'"),
                     ("user", "COALESCE({r}.user_email, {r}.account_uuid, {r}.user_id)"),
                     ("metric_name", "{r}.metric_name"), ("model", "{r}.model"),
                     ("attribute_set", f"COALESCE({attribute_sets.SET_OF}, 0)")),
               when=f"{{r}}.metric_name IN ('{COST}', '{TOKENS}')",
               watched=("timestamp", "user_email", "account_uuid", "user_id", "metric_name", "model", "metric_value",
                        "session_id", "attribute_set"))

ROLLUP_REFRESH: dict[str, list[str]] = {table: [_hourly(table).refresh(), _sessions(table)] for table in ROLLUP_KEYS}
for _rollup in (histograms.DURATIONS, *attribute_sets.ROLLUPS, USERS):  # migrations 0004's and 0006's
    ROLLUP_REFRESH[_rollup.source].append(_rollup.refresh())


def refresh_rollups(conn: sqlite3.Connection, since_ids: dict[str, int]) -> None:
    """Add the rows with id > since_ids[table] to the rollups (the caller holds the write transaction)."""
    for table, since in since_ids.items():
        for sql in ROLLUP_REFRESH[table]:
            conn.execute(sql, (since,))
