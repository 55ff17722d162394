"""Versioned migrations: an ordered list of named steps, each applied once and recorded in
`schema_migrations`. Each step is frozen text, store/sqlite/migrations/<name>.sql (plus, for 0004, the
frozen backfill below): nothing in a shipped step reads a constant the running code also uses, so it
can never change after it shipped. Append new steps at the end; never edit one.

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
import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

FILES = Path(__file__).parent / "migrations"
BACKFILL_MARK = "-- backfill:"


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


Step = Callable[[sqlite3.Connection], None]


def _frozen(name: str, backfill: Step | None = None) -> Step:
    """The step that runs migrations/<name>.sql, with `backfill` where the file marks it."""
    def step(conn: sqlite3.Connection) -> None:
        before, mark, after = (FILES / f"{name}.sql").read_text().partition(BACKFILL_MARK)
        run_statements(conn, before)
        if mark:
            assert backfill is not None
            backfill(conn)
            run_statements(conn, after.split("\n", 1)[1])
    return step


# -- 0004's backfill, frozen: the rule that mapped a pre-0004 session to its attribute set then ---------
# (the set of the resource keys users added, read from the session's first record), copied here so a
# later change of the live rule (telemetry.py) cannot change what this migration did.
_V4_RECORD_KEYS = frozenset({"start_type", "query_source", "effort", "speed", "source", "tool_name", "decision",
                             "language", "model", "type", "prompt_length", "prompt", "prompt_text", "message.uuid",
                             "command_name", "command_source", "body"})
_V4_STANDARD = ("host.", "os.", "service.", "otel.", "anthropic.", "telemetry.", "process.", "resource.",
                "deployment.", "container.", "k8s.", "cloud.", "event.")
_V4_IDENTITY = frozenset({"session.id", "user.account_uuid", "organization.id", "terminal.type", "app.version",
                          "user.id", "user.email"})


def _v4_set(custom: dict[str, object]) -> tuple[int, str]:
    text = json.dumps(custom, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    h = hashlib.blake2b(digest_size=8)
    h.update(len(text.encode()).to_bytes(4, "little"))
    h.update(text.encode())
    return int.from_bytes(h.digest(), "little", signed=True) or 1, text


def _v4_backfill(conn: sqlite3.Connection) -> None:
    sets: dict[int, str] = {}
    sessions: dict[str, int] = {}
    for session_id, text in conn.execute("SELECT session_id, custom_attributes FROM rollup_sessions"):
        try:
            attrs = json.loads(text or "{}")
        except ValueError:
            continue
        custom = {k: v for k, v in attrs.items() if not k.startswith(_V4_STANDARD) and k not in _V4_IDENTITY
                  and k not in _V4_RECORD_KEYS} if isinstance(attrs, dict) else {}
        if custom:
            set_id, canonical = _v4_set(custom)
            sets[set_id] = canonical
            sessions[session_id] = set_id
    conn.executemany("INSERT OR IGNORE INTO attribute_sets VALUES (?, ?)", sets.items())
    conn.executemany("INSERT OR IGNORE INTO session_attribute_sets VALUES (?, ?)", sessions.items())


Migration = tuple[str, Step]
MIGRATIONS: list[Migration] = [
    ("0001_initial", _frozen("0001_initial")),  # the documented tables (shared/claude-code/SEED-SCHEMA.md)
    ("0002_dashboard_rollups", _frozen("0002_dashboard_rollups")),  # exact hourly rollups (issue 3)
    ("0003_writer_refreshes_rollups", _frozen("0003_writer_refreshes_rollups")),  # inserts: store/sqlite/rollups.py
    ("0004_duration_histograms_and_attribute_sets",  # store/histograms.py, store/attribute_sets.py
     _frozen("0004_duration_histograms_and_attribute_sets", _v4_backfill)),
    ("0005_writer_heartbeat", _frozen("0005_writer_heartbeat")),  # store/health.py (issue 9)
    ("0006_user_rollups", _frozen("0006_user_rollups")),  # cost and tokens by user: store/sqlite/rollups.py (#14)
    ("0007_tokens_and_secrets", _frozen("0007_tokens_and_secrets")),  # store/access.py (#10)
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
