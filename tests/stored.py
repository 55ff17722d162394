"""What a test reads back from a database of either backend: rows of one SQL statement, written once
with `?` placeholders (the read side's own connections: store/sqlite/reads.py, store/postgres/reads.py),
so a test's expectations hold on SQLite and PostgreSQL alike."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any, TypeVar

import psycopg

from ccmonitor.store import Reader, Store, is_url, open_store
from ccmonitor.store.postgres.reads import PgReader, PostgresReads, configure, placeholders
from ccmonitor.store.sqlite.reads import connect_reader

T = TypeVar("T")


def rows(db: Path | str, sql: str, params: tuple[object, ...] | list[object] = ()) -> list[tuple[Any, ...]]:
    if is_url(db):
        reads = PostgresReads(str(db), max_size=1)
        try:
            return reads.read(lambda r: [tuple(row) for row in r.execute(sql, params).fetchall()])
        finally:
            reads.close()
    with closing(connect_reader(Path(db))) as conn:
        return [tuple(row) for row in conn.execute(sql, params).fetchall()]


def scalar(db: Path | str, sql: str, params: tuple[object, ...] | list[object] = ()) -> Any:
    return rows(db, sql, params)[0][0]


@contextlib.contextmanager
def opened(db: Path | str) -> Iterator[Store]:
    """The store at `db`, read-only (no writer, no migrations), closed afterwards."""
    store = open_store(db, write=False)
    try:
        yield store
    finally:
        store.close()


def read(db: Path | str, fn: Callable[[Reader], T]) -> T:
    """fn(reader) in one snapshot of the database at `db` (a query function of queries/)."""
    with opened(db) as store:
        return store.read(fn)


@contextlib.contextmanager
def reader(db: Path | str) -> Iterator[Reader]:
    """A Reader on the database at `db`, for calling query functions directly; one snapshot."""
    if not is_url(db):
        with closing(connect_reader(Path(db))) as conn:
            yield conn
        return
    with psycopg.connect(str(db)) as conn:
        configure(conn)
        conn.read_only = True
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        yield PgReader(conn)


def execute(db: Path | str, sql: str, params: tuple[object, ...] | list[object] = ()) -> int:
    """One statement written to the database at `db` (the test arranging data by hand); rows changed."""
    if is_url(db):
        with psycopg.connect(str(db)) as conn:
            return conn.execute(placeholders(sql), list(params)).rowcount  # type: ignore[arg-type]
    with closing(sqlite3.connect(db)) as lite, lite:
        return lite.execute(sql, params).rowcount
