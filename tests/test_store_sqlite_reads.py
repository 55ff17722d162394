"""store/sqlite/reads: read-only connections reused across requests, one snapshot per request."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ccmonitor.errors import StoreBusy
from ccmonitor.store.sqlite.reads import SqliteReads
from ccmonitor.store.sqlite.writer import open_database


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "pool.db"
    open_database(path).close()
    return path


def insert_event(path: Path) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO events (timestamp, event_name, dedup_key) VALUES ('2026-01-01 00:00:00.000',"
                     " 'claude_code.user_prompt', abs(random()))")
    conn.close()


def test_one_snapshot_per_request(db: Path) -> None:
    pool = SqliteReads(db)

    def read_twice(conn: sqlite3.Connection) -> tuple[int, int]:
        before = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        insert_event(db)  # another writer commits mid-request
        return before, conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]

    assert pool.read(read_twice) == (0, 0)
    assert pool.read(lambda conn: conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]) == 1
    pool.close()


def test_connections_are_reused_and_read_only(db: Path) -> None:
    pool = SqliteReads(db, size=1)
    seen: list[sqlite3.Connection] = []
    for _ in range(2):
        pool.read(seen.append)
    assert seen[0] is seen[1]
    with pytest.raises(StoreBusy):  # a read connection cannot write
        pool.read(lambda conn: conn.execute("DELETE FROM events"))
    pool.read(seen.append)
    assert seen[2] is not seen[0]  # the connection that failed was not kept
    pool.close()
