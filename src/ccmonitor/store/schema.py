"""Versioned migrations: an ordered list of named steps, each applied once and recorded in
`schema_migrations`. Append new steps at the end; never edit a step that has shipped.

The `metrics` and `events` columns are the documented surface (shared/claude-code/SEED-SCHEMA.md):
people paste queries against them, so columns are only ever added. `timestamp` is UTC text in
SQLite's own form with milliseconds ('2026-11-27 16:19:15.273'), which compares correctly with
`datetime('now', '-30 days')` and works with strftime(). `dedup_key` is a 64-bit digest of the
OTLP record (plus resource and scope); the unique index on (timestamp, dedup_key) makes an identical
resend store nothing, serves every time-range query, and grows at its right edge (records arrive
roughly in time order), so it is cheap to maintain. Two distinct records would have to share the
millisecond and the 64-bit digest to collide.
`metric_value` always holds an increment (cumulative points are converted), so SUM() is a true total.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

IDENTITY_COLUMNS = """
  session_id TEXT,
  account_uuid TEXT,
  organization_id TEXT,
  terminal_type TEXT,
  app_version TEXT,
  user_id TEXT,
  user_email TEXT,"""

V1 = f"""
CREATE TABLE metrics (
  id INTEGER PRIMARY KEY,
  timestamp DATETIME NOT NULL,{IDENTITY_COLUMNS}
  metric_name TEXT NOT NULL,
  metric_value REAL NOT NULL,
  metric_unit TEXT,
  model TEXT,
  type TEXT,
  tool TEXT,
  decision TEXT,
  language TEXT,
  custom_attributes TEXT,
  dedup_key INTEGER NOT NULL
);
CREATE UNIQUE INDEX metrics_time ON metrics(timestamp, dedup_key);
CREATE INDEX metrics_name_time ON metrics(metric_name, timestamp);
CREATE INDEX metrics_session ON metrics(session_id, timestamp);

CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  timestamp DATETIME NOT NULL,{IDENTITY_COLUMNS}
  event_name TEXT NOT NULL,
  prompt_id TEXT,
  prompt TEXT,
  prompt_length INTEGER,
  tool_name TEXT,
  success TEXT,
  duration_ms INTEGER,
  error TEXT,
  decision TEXT,
  source TEXT,
  tool_parameters TEXT,
  model TEXT,
  cost_usd REAL,
  input_tokens INTEGER,
  output_tokens INTEGER,
  cache_read_tokens INTEGER,
  cache_creation_tokens INTEGER,
  status_code INTEGER,
  attempt INTEGER,
  trace_id TEXT,
  span_id TEXT,
  custom_attributes TEXT,
  dedup_key INTEGER NOT NULL
);
CREATE UNIQUE INDEX events_time ON events(timestamp, dedup_key);
CREATE INDEX events_name_time ON events(event_name, timestamp);
CREATE INDEX events_session ON events(session_id, timestamp);
CREATE INDEX events_prompt ON events(prompt_id);

CREATE TABLE spans (
  id INTEGER PRIMARY KEY,
  timestamp DATETIME NOT NULL,
  end_timestamp DATETIME NOT NULL,
  duration_ms REAL NOT NULL,
  trace_id TEXT NOT NULL,
  span_id TEXT NOT NULL,
  parent_span_id TEXT,
  name TEXT NOT NULL,
  kind INTEGER,
  status_code INTEGER,
  status_message TEXT,
  session_id TEXT,
  user_id TEXT,
  prompt_id TEXT,
  custom_attributes TEXT,
  span_events TEXT,
  links TEXT,
  dedup_key INTEGER NOT NULL
);
CREATE UNIQUE INDEX spans_time ON spans(timestamp, dedup_key);
CREATE INDEX spans_trace ON spans(trace_id);
CREATE INDEX spans_session ON spans(session_id, timestamp);

-- Last seen point of every CUMULATIVE series, so a restart never re-counts.
CREATE TABLE metric_series (
  series_key BLOB PRIMARY KEY,
  start_time_unix_nano INTEGER NOT NULL,
  last_time_unix_nano INTEGER NOT NULL,
  last_value REAL NOT NULL,
  updated_at DATETIME NOT NULL
) WITHOUT ROWID;
"""


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """executescript() would COMMIT the migration's transaction first; run statement by statement."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _v1_initial(conn: sqlite3.Connection) -> None:
    run_script(conn, V1)


Migration = tuple[str, Callable[[sqlite3.Connection], None]]

MIGRATIONS: list[Migration] = [
    ("0001_initial", _v1_initial),
]


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply pending migrations in order; returns the names applied. Caller holds no transaction."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at DATETIME NOT NULL)"
    )
    done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
    applied = []
    for name, step in MIGRATIONS:
        if name in done:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            step(conn)
            conn.execute(
                "INSERT INTO schema_migrations(name, applied_at) VALUES (?, datetime('now'))", (name,)
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied
