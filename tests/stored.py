"""What a test reads back from a database of either backend: rows of one SQL statement, written once
with `?` placeholders (the read side's own connections: store/sqlite/reads.py, store/postgres/reads.py),
so a test's expectations hold on SQLite and PostgreSQL alike."""

from __future__ import annotations

import contextlib
import json
import random
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any, TypeVar

import psycopg

from ccmonitor.records import Batch, Event, MetricPoint, Span
from ccmonitor.store import TABLES, Reader, Store, is_url, open_store
from ccmonitor.store.dialect import Dialect
from ccmonitor.store.postgres.dialect import POSTGRES
from ccmonitor.store.postgres.reads import PgReader, PostgresReads, configure, placeholders
from ccmonitor.store.sqlite.dialect import SQLITE
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
    """One statement written to the database at `db` (the test arranging data by hand); rows changed.
    Text times are UTC on both backends (the session's zone is set, as the store's own are)."""
    if is_url(db):
        with psycopg.connect(str(db)) as conn:
            conn.execute("SET TIME ZONE 'UTC'")
            return conn.execute(placeholders(sql), list(params)).rowcount  # type: ignore[arg-type]
    with closing(sqlite3.connect(db)) as lite, lite:
        return lite.execute(sql, params).rowcount


@contextlib.contextmanager
def writes_held(db: Path | str) -> Iterator[None]:
    """Every write to the database at `db` waits until the block ends, reads go on: another connection
    holds the write lock (SQLite: BEGIN IMMEDIATE). PostgreSQL: spans and the rollups every insert of
    metrics or events feeds are locked EXCLUSIVE, so a write waits at them; locking events or metrics
    themselves would queue the creation of a month's partition, and every reader behind it."""
    if is_url(db):
        with psycopg.connect(str(db)) as conn:
            conn.execute("LOCK TABLE rollup_metrics, rollup_events, spans IN EXCLUSIVE MODE")
            try:
                yield
            finally:
                conn.rollback()
        return
    with closing(sqlite3.connect(db, isolation_level=None)) as lite:
        lite.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            lite.execute("ROLLBACK")


def created(db: Path | str) -> bool:
    """Whether anything made the database at `db`: the SQLite file exists, or the PostgreSQL database
    (which the test harness creates empty) has a table."""
    if not is_url(db):
        return Path(db).exists()
    with psycopg.connect(str(db)) as conn:
        return conn.execute("SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema())"
                            ).fetchone() == (True,)


def dialect(db: Path | str) -> Dialect:
    """The SQL that differs between the backends (store/dialect.py), for a test's own statements."""
    return POSTGRES if is_url(db) else SQLITE


def counts(db: Path | str) -> dict[str, int]:
    """Rows per table of the database at `db`."""
    return {t: scalar(db, f"SELECT COUNT(*) FROM {t}") for t in TABLES}


PAD = json.dumps({"team": "platform", "pad": "x" * 400})


def fill(db: Path | str, n: int, timestamp: str, prompt: str | None = None) -> None:
    """n rows per table at `timestamp` (stored form), written through the store's own writer (so the
    rollups and, on PostgreSQL, the month's partition follow) into the database at `db`."""
    def key() -> int:
        return random.getrandbits(63)

    attributes = json.dumps({"prompt_text": prompt, "team": "platform"}) if prompt else PAD
    event = Event(0, timestamp, "s-old", *[None] * 6, "claude_code.user_prompt", None, prompt, 5,
                  *[None] * 17, attributes, 0)
    metric = MetricPoint(0, timestamp, *[None] * 7, "claude_code.token.usage", 1.0, None, *[None] * 5, PAD, 0,
                         b"", 0, 0, False, True)
    span = Span(0, timestamp, timestamp, 1.0, "t", "s", None, "claude_code.interaction", 0, 0, None, None, None,
                None, json.dumps({"user_prompt": prompt or "x"}), None, None)
    store = open_store(db, queue_max_records=3 * FILL_CHUNK)
    try:
        for start in range(0, n, FILL_CHUNK):
            size = min(FILL_CHUNK, n - start)
            for signal, batch in (("logs", Batch("logs", events=[event._replace(dedup_key=key())
                                                                 for _ in range(size)])),
                                  ("metrics", Batch("metrics", metrics=[metric._replace(dedup_key=key())
                                                                        for _ in range(size)])),
                                  ("traces", Batch("traces", spans=[span._replace(dedup_key=key())
                                                                    for _ in range(size)]))):
                assert store.submit(batch).result(120).accepted == size, signal
    finally:
        store.close()


FILL_CHUNK = 5_000
