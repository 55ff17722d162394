"""Another process writing to the database, holding its write lock until released: on SQLite a
connection in BEGIN IMMEDIATE; on PostgreSQL a transaction holding the writer's tables in EXCLUSIVE
mode (reads go on, every write waits, as SQLite's lock lets them).

The writer gives up waiting after its backend's own timeout: SQLite's busy_timeout, PostgreSQL's
statement_timeout (the commit timeout). GIVE_UP and PATIENT are server settings for each backend
that make it give up quickly, or wait a few seconds first."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg

from ccmonitor.store import is_url

WRITTEN = ("events", "metrics", "spans", "heartbeat")  # what a request and the heartbeat write
GIVE_UP = {"sqlite": {"busy_timeout_ms": 200}, "postgres": {"commit_timeout_s": 0.5}}
PATIENT = {"sqlite": {"busy_timeout_ms": 3000}, "postgres": {"commit_timeout_s": 3.0}}
# what /health says while the writer cannot get the lock
LOCKED_REASON = {"sqlite": "locked longer than the busy timeout", "postgres": "statement timeout"}


@contextlib.contextmanager
def write_lock(db: Path | str) -> Iterator[None]:
    """The database at `db` locked for writing by another connection while the block runs."""
    if is_url(db):
        with psycopg.connect(str(db)) as conn:  # one transaction, rolled back at the end
            conn.execute(f"LOCK TABLE {', '.join(WRITTEN)} IN EXCLUSIVE MODE")
            try:
                yield
            finally:
                conn.rollback()
        return
    blocker = sqlite3.connect(db, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        yield
        blocker.execute("ROLLBACK")
    finally:
        blocker.close()
