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

import contextlib
import sqlite3
from collections.abc import Callable, Iterator

from ccmonitor.store import attribute_sets, histograms
from ccmonitor.store.aggregates import Rollup

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


def run_statements(conn: sqlite3.Connection, script: str) -> None:
    """Run a script statement by statement inside the caller's transaction (executescript() would
    COMMIT it first); a trigger body's own semicolons don't end its CREATE TRIGGER."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            conn.execute(pending)
            pending = ""
    if pending.strip():
        conn.execute(pending)


def _v1_initial(conn: sqlite3.Connection) -> None:
    run_statements(conn, V1)


Migration = tuple[str, Callable[[sqlite3.Connection], None]]

MIGRATIONS: list[Migration] = [
    ("0001_initial", _v1_initial),
]


@contextlib.contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE .. COMMIT, rolled back on any error, unless SQLite already rolled back itself
    (it does after SQLITE_FULL or an I/O error, and a second ROLLBACK would hide that cause)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


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
        with write_transaction(conn):
            step(conn)
            conn.execute(
                "INSERT INTO schema_migrations(name, applied_at) VALUES (?, datetime('now'))", (name,)
            )
        applied.append(name)
    return applied


# -- 0002: what the dashboard reads (issue 3) -------------------------------------------------------
# Exact hourly rollups kept by triggers in the same transaction as the rows they sum, so they can
# never disagree with the raw tables (deletes and updates are subtracted again); key columns hold ''
# for NULL (a primary key treats NULLs as distinct). An hour of sums is ~20x smaller than the rows it
# sums, which keeps a 30-day dashboard fast on a year of data. `rollup_sessions` keeps each session's
# first and last activity (its session.count / active_time metrics and its prompts), so the session
# list and the filter choices never scan the range. One trigger statement per stored row is the price
# (a store without them writes about twice as many rows per second; decode, not the writer, bounds ingest).

ROLLUP_KEYS = {
    "metrics": ("metric_name", "type", "model", "tool", "decision", "language"),
    "events": ("event_name", "model", "tool_name", "success", "decision"),
}
ROLLUP_SUMS = {"metrics": ("metric_value", "value"), "events": ("1", "n")}  # raw expression -> rollup column
SESSION_MARKS = {  # the records that move a session's first/last activity
    "metrics": "metric_name IN ('claude_code.session.count', 'claude_code.active_time.total')",
    "events": "event_name = 'claude_code.user_prompt'",
}


def _rollup_sql(table: str) -> str:
    keys, (expr, total) = ROLLUP_KEYS[table], ROLLUP_SUMS[table]

    def key(row: str) -> str:
        return ", ".join([f"substr({row}.timestamp, 1, 13) || ':00:00.000'",
                          *(f"COALESCE({row}.{k}, '')" for k in keys)])

    def match(row: str) -> str:
        return " AND ".join([f"hour = substr({row}.timestamp, 1, 13) || ':00:00.000'",
                             *(f"{k} = COALESCE({row}.{k}, '')" for k in keys)])

    def value(row: str) -> str:
        return expr if expr == "1" else f"{row}.{expr}"

    def add(row: str) -> str:
        return (f"INSERT INTO rollup_{table} VALUES ({key(row)}, {value(row)}, 1) ON CONFLICT DO UPDATE SET"
                f" {total} = {total} + excluded.{total}, records = records + 1;")

    def subtract(row: str) -> str:
        return (f"UPDATE rollup_{table} SET {total} = {total} - {value(row)}, records = records - 1"
                f" WHERE {match(row)}; DELETE FROM rollup_{table} WHERE {match(row)} AND records <= 0;")

    watched = ", ".join(("timestamp", *keys, *([expr] if expr != "1" else [])))
    marks = SESSION_MARKS[table]
    return f"""
CREATE TABLE rollup_{table} (hour TEXT NOT NULL, {", ".join(f"{k} TEXT NOT NULL" for k in keys)},
  {total} REAL NOT NULL, records INTEGER NOT NULL, PRIMARY KEY (hour, {", ".join(keys)})) WITHOUT ROWID;
INSERT INTO rollup_{table} SELECT substr(timestamp, 1, 13) || ':00:00.000',
  {", ".join(f"COALESCE({k}, '')" for k in keys)}, SUM({expr}), COUNT(*)
  FROM {table} GROUP BY {", ".join(str(i + 1) for i in range(len(keys) + 1))};
CREATE TRIGGER rollup_{table}_insert AFTER INSERT ON {table} BEGIN {add("NEW")} END;
CREATE TRIGGER rollup_{table}_delete AFTER DELETE ON {table} BEGIN {subtract("OLD")} END;
CREATE TRIGGER rollup_{table}_update AFTER UPDATE OF {watched} ON {table} BEGIN {subtract("OLD")} {add("NEW")} END;
INSERT INTO rollup_sessions SELECT session_id, MIN(timestamp), MAX(timestamp),
  MAX(COALESCE(user_email, account_uuid, user_id)), MAX(terminal_type), MAX(app_version), MIN(custom_attributes)
  FROM {table} WHERE session_id IS NOT NULL AND {marks} GROUP BY session_id
  ON CONFLICT DO UPDATE SET first_ts = min(first_ts, excluded.first_ts), last_ts = max(last_ts, excluded.last_ts);
CREATE TRIGGER rollup_sessions_{table}_insert AFTER INSERT ON {table}
  WHEN NEW.session_id IS NOT NULL AND NEW.{marks} BEGIN {_session_add("NEW")} END;
CREATE TRIGGER rollup_sessions_{table}_delete AFTER DELETE ON {table}
  WHEN OLD.session_id IS NOT NULL AND OLD.{marks} BEGIN {_session_bounds("OLD")} END;
CREATE TRIGGER rollup_sessions_{table}_update AFTER UPDATE OF timestamp, session_id ON {table} BEGIN
  {_session_bounds("OLD")} INSERT INTO rollup_sessions SELECT NEW.session_id, NEW.timestamp, NEW.timestamp,
  NULL, NULL, NULL, NULL WHERE NEW.session_id IS NOT NULL AND NEW.{marks} ON CONFLICT DO UPDATE SET
  first_ts = min(first_ts, excluded.first_ts), last_ts = max(last_ts, excluded.last_ts); END;
"""


def _session_add(row: str) -> str:
    return (f"INSERT INTO rollup_sessions VALUES ({row}.session_id, {row}.timestamp, {row}.timestamp,"
            f" COALESCE({row}.user_email, {row}.account_uuid, {row}.user_id), {row}.terminal_type,"
            f" {row}.app_version, {row}.custom_attributes) ON CONFLICT DO UPDATE SET"
            " first_ts = min(first_ts, excluded.first_ts), last_ts = max(last_ts, excluded.last_ts),"
            " user = COALESCE(user, excluded.user);")


def _session_bounds(row: str) -> str:
    """A session's first or last mark went: find its bounds again (index seeks on the session)."""
    def bound(f: str) -> str:  # each inner MIN/MAX walks the (session_id, timestamp) index to its first match
        inner = " UNION ALL ".join(f"SELECT (SELECT {f}(timestamp) FROM {t} WHERE session_id = {row}.session_id"
                                   f" AND {m}) AS t" for t, m in SESSION_MARKS.items())
        return f"(SELECT {f}(t) FROM ({inner}))"

    return (f"UPDATE rollup_sessions SET first_ts = {bound('MIN')},"
            f" last_ts = {bound('MAX')} WHERE session_id = {row}.session_id"
            f" AND ({row}.timestamp <= first_ts OR {row}.timestamp >= last_ts);"
            f" DELETE FROM rollup_sessions WHERE session_id = {row}.session_id AND first_ts IS NULL;")


V2_INDEXES = """
CREATE TABLE rollup_sessions (session_id TEXT PRIMARY KEY, first_ts TEXT, last_ts TEXT, user TEXT,
  terminal_type TEXT, app_version TEXT, custom_attributes TEXT) WITHOUT ROWID;
CREATE INDEX rollup_sessions_last ON rollup_sessions(last_ts);
CREATE INDEX events_durations ON events(event_name, timestamp, model, tool_name, duration_ms);
CREATE INDEX metrics_user ON metrics(COALESCE(user_email, account_uuid, user_id), timestamp);
CREATE INDEX events_user ON events(COALESCE(user_email, account_uuid, user_id), timestamp);
"""


def _v2_dashboard(conn: sqlite3.Connection) -> None:
    run_statements(conn, V2_INDEXES + _rollup_sql("metrics") + _rollup_sql("events"))


MIGRATIONS.append(("0002_dashboard_rollups", _v2_dashboard))


# -- 0003: rollups refreshed per transaction by the writer --------------------------------------------
# A trigger statement per stored row halved the rate at which the writer stores records. Inserts now
# reach the rollups through refresh_rollups(): one grouped upsert per table over the rows the
# transaction added, run by the writer inside that same transaction, so the rollups stay exact and the
# cost is per hour-and-key group instead of per row. Deletes and updates keep their triggers (retention,
# and the DELETEs users paste into the sqlite3 shell). Rows inserted by hand bypass the rollups.

def _hourly(table: str) -> Rollup:
    """0002's hourly rollup as a Rollup, for the writer's refresh (its table and triggers are 0002's)."""
    expr, total = ROLLUP_SUMS[table]
    return Rollup(name=f"rollup_{table}", source=table, total=(total, expr if expr == "1" else "{r}." + expr),
                  keys=(("hour", "substr({r}.timestamp, 1, 13) || ':00:00.000'"),
                        *((k, "{r}." + k) for k in ROLLUP_KEYS[table])))


def _refresh_sql(table: str) -> list[str]:
    return [
        _hourly(table).refresh(),
        "INSERT INTO rollup_sessions SELECT session_id, MIN(timestamp), MAX(timestamp),"
        " MAX(COALESCE(user_email, account_uuid, user_id)), MAX(terminal_type), MAX(app_version),"
        f" MIN(custom_attributes) FROM {table} WHERE id > ? AND session_id IS NOT NULL AND {SESSION_MARKS[table]}"
        " GROUP BY session_id ON CONFLICT DO UPDATE SET first_ts = min(first_ts, excluded.first_ts),"
        " last_ts = max(last_ts, excluded.last_ts), user = COALESCE(user, excluded.user)",
    ]


ROLLUP_REFRESH = {table: _refresh_sql(table) for table in ROLLUP_KEYS}


def refresh_rollups(conn: sqlite3.Connection, since_ids: dict[str, int]) -> None:
    """Add the rows with id > since_ids[table] to the rollups (the caller holds the write transaction)."""
    for table, since in since_ids.items():
        for sql in ROLLUP_REFRESH[table]:
            conn.execute(sql, (since,))


def _v3_writer_rollups(conn: sqlite3.Connection) -> None:
    for table in ROLLUP_KEYS:
        conn.execute(f"DROP TRIGGER IF EXISTS rollup_{table}_insert")
        conn.execute(f"DROP TRIGGER IF EXISTS rollup_sessions_{table}_insert")


MIGRATIONS.append(("0003_writer_refreshes_rollups", _v3_writer_rollups))


# -- 0004: exact percentiles from duration histograms, rollups by custom attribute set ---------------
# (store/histograms.py, store/attribute_sets.py). The writer refreshes them like 0003's.

V4_ROLLUPS = (histograms.DURATIONS, *attribute_sets.ROLLUPS)
for _rollup in V4_ROLLUPS:
    ROLLUP_REFRESH[_rollup.source].append(_rollup.refresh())


def _v4_durations_and_sets(conn: sqlite3.Connection) -> None:
    for sql in attribute_sets.TABLES:
        conn.execute(sql)
    attribute_sets.backfill(conn)
    for rollup in V4_ROLLUPS:
        for sql in (*rollup.create(), *rollup.triggers()):
            conn.execute(sql)
    for sql in histograms.INDEXES:
        conn.execute(sql)
    # a prefix of events_durations (event_name, timestamp, ...), which serves all its queries: one less
    # index to update per stored event
    conn.execute("DROP INDEX IF EXISTS events_name_time")
    # the session list, active users and filter choices read these columns of the sessions active in a
    # range; covering them skips a lookup of each session's row (with its JSON) per session
    conn.execute("CREATE INDEX rollup_sessions_span ON rollup_sessions(last_ts, first_ts, user, terminal_type)")
    conn.execute("DROP INDEX IF EXISTS rollup_sessions_last")


MIGRATIONS.append(("0004_duration_histograms_and_attribute_sets", _v4_durations_and_sets))


# -- 0005: the writer's heartbeat (issue 9) ------------------------------------------------------------
# One row the writer rewrites at start-up and, while the store is failing and no request is waiting,
# every few seconds: a real write, so /health recovers on its own once the cause is gone.

V5_HEARTBEAT = "CREATE TABLE heartbeat (id INTEGER PRIMARY KEY CHECK (id = 1), at DATETIME NOT NULL)"


def _v5_heartbeat(conn: sqlite3.Connection) -> None:
    conn.execute(V5_HEARTBEAT)


MIGRATIONS.append(("0005_writer_heartbeat", _v5_heartbeat))
