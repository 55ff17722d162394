"""PostgreSQL migrations: fixed SQL text, applied in order, each recorded in `schema_migrations`.

Append new steps at the end; never edit a step that has shipped, and never build one from constants the
running code uses (the text would change after it shipped). Several receivers starting at once migrate
once: the runner holds an advisory lock for its transaction, and a second receiver waits for it, then
finds everything applied.

Each step is migrations/<name>.sql. 0001 creates the whole current schema; PostgreSQL has no older
history to upgrade. The tables and their column order are SQLite's (store/sqlite/schema.py): people
paste queries, and `copy` moves rows. What differs: `timestamp` is timestamptz and `custom_attributes`
jsonb; `events` and `metrics` are partitioned by month (store/postgres/partitions.py creates the
partitions; retention drops expired ones whole), so their unique key (timestamp, dedup_key) is the
only unique index (a unique index on a partitioned table must hold the partition key) and `id` comes
from a sequence (identity columns on partitioned tables need PostgreSQL 17). Nanosecond times are
numeric(20): they exceed bigint.

The rollups are SQLite's (same names, keys and meaning), with `hour` a timestamptz (start of the UTC
hour) and `day` a UTC date. The writer adds to them in the statement that inserts the rows
(store/postgres/writer.py); the statement-level AFTER DELETE triggers of 0001 subtract what a DELETE
removes (retention's edge partition, a hand-typed DELETE) and find a session's bounds again when its
first or last mark went. Dropped partitions bypass triggers: retention subtracts those itself.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

MIGRATION_LOCK = (0x63636D6F, 1)  # pg_advisory_xact_lock(int4, int4): 'ccmo', migrations


FILES = Path(__file__).parent / "migrations"
MIGRATIONS: list[tuple[str, str]] = [(name, (FILES / f"{name}.sql").read_text()) for name in (
    "0001_initial",
    "0002_tokens_and_secrets",  # store/access.py (#10)
)]


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply pending migrations in one transaction under an advisory lock; returns the names applied.
    `conn` is in autocommit mode (no transaction open)."""
    applied = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", MIGRATION_LOCK)
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY,"
                     " applied_at timestamptz NOT NULL)")
        done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
        for name, script in MIGRATIONS:
            if name in done:
                continue
            conn.execute(script.encode())  # no parameters: the simple protocol runs the whole script
            conn.execute("INSERT INTO schema_migrations (name, applied_at) VALUES (%s, now())", (name,))
            applied.append(name)
    return applied
