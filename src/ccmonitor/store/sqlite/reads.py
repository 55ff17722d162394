"""The SQLite read side: read-only connections reused across requests so SQLite's page cache stays
warm, each used by one thread at a time, each call inside one read transaction (one snapshot: the
panels of one request agree even while ingest commits). WAL lets them read beside the writer."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ccmonitor.errors import StoreBusy, StoreUnavailable
from ccmonitor.store.sqlite.dialect import Connection

T = TypeVar("T")
CACHE_KIB = 32 * 1024  # per connection
MMAP_BYTES = 1 << 30  # read pages straight from the OS cache, no copy
TABLES = ("metrics", "events", "spans")


def connect_reader(db: Path, busy_timeout_ms: int = 5000) -> Connection:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, check_same_thread=False, factory=Connection)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.row_factory = sqlite3.Row
    return conn


class SqliteReads:
    def __init__(self, db: Path, busy_timeout_ms: int = 5000, size: int = 4) -> None:
        self.db = db
        self.busy_timeout_ms = busy_timeout_ms
        self.size = size
        self._idle: list[Connection] = []
        self._lock = threading.Lock()
        self._inode: int | None = None  # the file the idle connections read

    def _same_file(self) -> None:
        """A pooled connection keeps reading a file deleted or replaced under the server (its inode
        lives on): the pool is dropped then, and a deleted file is StoreBusy, as for a new connection."""
        try:
            inode = os.stat(self.db).st_ino
        except OSError:
            inode = None
        if inode != self._inode:
            with self._lock:
                idle, self._idle = self._idle, []
                self._inode = inode
            for conn in idle:
                conn.close()
        if inode is None:
            raise StoreBusy(f"database not readable right now (no file {self.db}); retry")

    def _connect(self) -> Connection:
        try:
            conn = connect_reader(self.db, self.busy_timeout_ms)
            conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        except sqlite3.OperationalError as exc:
            raise StoreBusy(f"database not readable right now ({exc}); retry") from None
        return conn

    def read(self, fn: Callable[[Connection], T]) -> T:
        self._same_file()
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._connect()
        try:
            conn.execute("BEGIN")
            try:
                result = fn(conn)
            finally:
                conn.execute("ROLLBACK")
        except sqlite3.DatabaseError as exc:
            conn.close()  # a connection that saw an error is not trusted again
            if isinstance(exc, sqlite3.OperationalError):
                raise StoreBusy(f"database not readable right now ({exc}); retry") from None
            raise
        with self._lock:
            if len(self._idle) < self.size:
                self._idle.append(conn)
                conn = None
        if conn is not None:
            conn.close()
        return result

    def stream(self, sql: str, params: Sequence[object], chunk: int) -> Iterator[Any]:
        """One SELECT on a connection of its own, `chunk` rows at a time (one snapshot: WAL)."""
        conn = connect_reader(self.db, self.busy_timeout_ms)
        try:
            cursor = conn.execute(sql, params)
            while rows := cursor.fetchmany(chunk):
                yield from rows
        finally:
            conn.close()

    def columns(self, table: str) -> list[str]:
        return self.read(lambda conn: [r[1] for r in conn.execute(f"PRAGMA table_info({table})")])

    def stats(self) -> dict[str, Any]:
        def query(conn: Connection) -> dict[str, Any]:
            return {"rows": {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES},
                    "latest_timestamp": {t: conn.execute(f"SELECT MAX(timestamp) FROM {t}").fetchone()[0]
                                         for t in TABLES}}
        body = self.read(query)
        size = sum(os.path.getsize(p) for p in (self.db, Path(f"{self.db}-wal")) if p.exists())
        return {"backend": "sqlite", "db_path": str(self.db), "db_size_bytes": size, **body}

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def require(db: Path) -> None:
    """A read-only store needs the file to exist (sqlite3 would otherwise fail on the first query)."""
    if not db.exists():
        raise StoreUnavailable(f"no database at {db}; run `ccmonitor serve` first or pass --db")
