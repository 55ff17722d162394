"""The PostgreSQL read side: a psycopg pool of read-only REPEATABLE READ connections (each call to
read() is one snapshot, like SQLite's), in UTC, whose values read back in the forms the query
modules already speak: a timestamptz as the stored text form ('2026-11-27 16:19:15.273'), a date as
'YYYY-MM-DD', jsonb as its JSON text, numeric (SUM of a bigint) as an int or a float. Queries keep
SQLite's `?` placeholders; they become psycopg's `%s` here, once per statement text."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import psycopg
import psycopg_pool
from psycopg.adapt import Loader
from psycopg.rows import RowMaker

from ccmonitor.errors import StoreBusy, StoreUnavailable
from ccmonitor.store.postgres.dialect import POSTGRES
from ccmonitor.store.postgres.writer import redact

T = TypeVar("T")
TABLES = ("metrics", "events", "spans")
POOL_MAX = 8
_ZONE = re.compile(r"[+-]\d\d(:\d\d)?$")
_TOKEN = re.compile(r"'(?:[^']|'')*'|\?|%")


class StoredTime(Loader):
    def load(self, data: Any) -> str:
        text = bytes(data).decode()
        text = _ZONE.sub("", text)
        head, _, frac = text.partition(".")
        return f"{head}.{(frac + '000')[:3]}"


class Text(Loader):
    def load(self, data: Any) -> str:
        return bytes(data).decode()


class Number(Loader):
    """numeric (a SUM of a bigint, Dialect.total) as a Python number: an int where it is one that fits
    64 bits, else a float (inf past the largest float, as SQLite's SUM gives)."""

    def load(self, data: Any) -> int | float:
        text = bytes(data).decode()
        try:
            value = int(text)
        except ValueError:
            return float(text)
        return value if -(1 << 63) <= value < (1 << 63) else float(text)


def configure(conn: psycopg.Connection[Any]) -> None:
    for name, loader in (("timestamptz", StoredTime), ("timestamp", StoredTime), ("date", Text),
                         ("jsonb", Text), ("json", Text), ("numeric", Number)):
        conn.adapters.register_loader(name, loader)
    conn.execute("SET TIME ZONE 'UTC'")
    conn.commit()


class Row(tuple[Any, ...]):
    """A row by position and by column name (what sqlite3.Row offers the query modules)."""
    _names: dict[str, int]

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def row_factory(cursor: psycopg.Cursor[Any]) -> RowMaker[Row]:
    names = {c.name: i for i, c in enumerate(cursor.description or ())}
    kind = type("Row", (Row,), {"_names": names})
    return kind  # type: ignore[return-value]


@functools.lru_cache(maxsize=512)
def placeholders(sql: str) -> str:
    """`?` -> `%s` outside string literals; every `%` -> `%%` (psycopg reads them inside literals too)."""
    def swap(m: re.Match[str]) -> str:
        token = m.group(0)
        return "%s" if token == "?" else token.replace("%", "%%")
    return _TOKEN.sub(swap, sql)


class PgReader:
    """The Reader of store/__init__.py over one psycopg connection."""
    sql = POSTGRES

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[object] = ()) -> psycopg.Cursor[Row]:
        cursor = self.conn.cursor(row_factory=row_factory)
        return cursor.execute(placeholders(sql), list(params))  # type: ignore[arg-type]


class PostgresReads:
    def __init__(self, url: str, max_size: int = POOL_MAX, timeout_s: float = 10.0) -> None:
        self.url = url
        try:
            self._pool = psycopg_pool.ConnectionPool(url, min_size=1, max_size=max_size, timeout=timeout_s,
                                                     configure=configure, open=True, name="ccmonitor-reads",
                                                     # a connection left over from before a restart or a
                                                     # failover is found out here, not by a query
                                                     check=psycopg_pool.ConnectionPool.check_connection,
                                                     kwargs={"connect_timeout": 5})
            self._pool.wait(timeout_s)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise StoreUnavailable(f"cannot read the database: {exc}") from None

    def read(self, fn: Callable[[PgReader], T]) -> T:
        try:
            with self._pool.connection() as conn:
                conn.read_only = True
                conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
                try:
                    return fn(PgReader(conn))
                finally:
                    conn.rollback()
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise StoreBusy(f"database not readable right now ({str(exc).strip()}); retry") from None

    def stream(self, sql: str, params: Sequence[object], chunk: int) -> Iterator[Row]:
        """A server-side cursor: rows arrive `chunk` at a time, never all at once."""
        with self._pool.connection() as conn:
            conn.read_only = True
            try:
                with conn.cursor(name="ccmonitor_stream", row_factory=row_factory) as cursor:
                    cursor.itersize = chunk
                    cursor.execute(placeholders(sql), list(params))  # type: ignore[arg-type]
                    yield from cursor
            finally:
                conn.rollback()

    def columns(self, table: str) -> list[str]:
        return self.read(lambda r: [row[0] for row in r.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND table_name = ? ORDER BY ordinal_position", [table])])

    def stats(self) -> dict[str, Any]:
        def query(r: PgReader) -> dict[str, Any]:
            def one(sql: str) -> Any:
                return r.execute(sql).fetchall()[0][0]
            return {"db_size_bytes": one("SELECT pg_database_size(current_database())"),
                    "rows": {t: one(f"SELECT COUNT(*) FROM {t}") for t in TABLES},
                    "latest_timestamp": {t: one(f"SELECT MAX(timestamp) FROM {t}") for t in TABLES}}
        return {"backend": "postgresql", "db_path": redact(self.url), **self.read(query)}

    def close(self) -> None:
        self._pool.close()
