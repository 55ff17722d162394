"""Reads through the store: one snapshot per request on both backends; read-only connections, reused
(store/sqlite/reads keeps its own and drops one that failed; store/postgres/reads a psycopg pool)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import stored
from ccmonitor.errors import StoreBusy
from ccmonitor.store import Reader, open_store
from ccmonitor.store.postgres.reads import PostgresReads
from ccmonitor.store.sqlite.reads import SqliteReads


@pytest.fixture
def db(db_target: Path | str) -> Path | str:
    open_store(db_target).close()  # migrated, empty
    return db_target


def add_set(db: Path | str, n: int) -> None:
    """Another writer commits a row (attribute_sets: a table of both backends that needs no partition)."""
    stored.execute(db, "INSERT INTO attribute_sets (id, attributes) VALUES (?, '{}')", (n,))


def sets(reader: Reader) -> int:
    return int(reader.execute("SELECT COUNT(*) FROM attribute_sets").fetchone()[0])


def test_one_snapshot_per_request(db: Path | str) -> None:
    def read_twice(reader: Reader) -> tuple[int, int]:
        before = sets(reader)
        add_set(db, 1)  # another writer commits mid-request
        return before, sets(reader)

    with stored.opened(db) as store:
        assert store.read(read_twice) == (0, 0)
        assert store.read(sets) == 1


@pytest.mark.parametrize("backend", ["sqlite"])  # store/sqlite/reads' own pool; PostgreSQL's: below
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


@pytest.mark.parametrize("backend", ["postgres"])
def test_postgres_read_connections_are_reused_read_only_snapshots(db: str) -> None:
    pool = PostgresReads(db, max_size=1)
    try:
        def setting(name: str) -> str:
            return str(pool.read(lambda r: r.execute(f"SHOW {name}").fetchone()[0]))

        assert setting("transaction_read_only") == "on"
        assert setting("transaction_isolation") == "repeatable read"
        assert setting("TimeZone") == "UTC"
        assert len({pool.read(lambda r: r.execute("SELECT pg_backend_pid()").fetchone()[0]) for _ in range(3)}) == 1
    finally:
        pool.close()
