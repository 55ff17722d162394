"""The SQLite store: the writer thread (writer.py), pooled read-only connections (reads.py) and the
retention steps (retention.py) over one file, behind the Store protocol of store/__init__.py."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ccmonitor.errors import StoreBusy
from ccmonitor.store import Progress, SeriesRow
from ccmonitor.store.database import Database
from ccmonitor.store.sqlite import retention
from ccmonitor.store.sqlite.reads import SqliteReads, require
from ccmonitor.store.sqlite.schema import write_transaction
from ccmonitor.store.sqlite.writer import SqliteWriter, connect


class SqliteStore(Database):
    def __init__(self, path: Path, *, write: bool = True, synchronous: str = "FULL", busy_timeout_ms: int = 5000,
                 queue_max_records: int = 20_000, commit_timeout_s: float = 30.0) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        if not write:
            require(path)
        writer = SqliteWriter(path, synchronous=synchronous, busy_timeout_ms=busy_timeout_ms,
                              queue_max_records=queue_max_records, commit_timeout_s=commit_timeout_s) if write else None
        super().__init__(str(path), writer, lambda: SqliteReads(path, busy_timeout_ms), commit_timeout_s)

    def restore_series(self, rows: Sequence[SeriesRow]) -> int:
        # The writer caches series states (store/series.py): a state written behind its back could be
        # older than its cache. `copy` only ever moves a history into PostgreSQL.
        raise NotImplementedError("series states are restored into PostgreSQL only (ccmonitor copy)")

    def _change(self, statements: Sequence[tuple[str, Sequence[object]]]) -> list[Any]:
        try:
            with self._maintenance() as conn, write_transaction(conn):
                rows: list[Any] = []
                for sql, params in statements:
                    rows = conn.execute(sql, params).fetchall()
                return rows
        except sqlite3.Error as exc:
            raise StoreBusy(f"cannot write to {self.path}: {exc}") from None

    # -- retention: short transactions on a connection of their own, beside the writer ------------
    @contextlib.contextmanager
    def _maintenance(self) -> Iterator[sqlite3.Connection]:
        conn = connect(self.path, self.busy_timeout_ms)
        try:
            yield conn
        finally:
            conn.close()

    def count(self, before: str | None, prompts_before: str | None = None) -> dict[str, int]:
        with self._maintenance() as conn:
            return retention.count(conn, before, prompts_before)

    def prune(self, before: str, progress: Progress | None = None,
              halt: threading.Event | None = None) -> dict[str, int]:
        with self._maintenance() as conn:
            return retention.prune(conn, before, progress=progress, halt=halt)

    def blank_prompts(self, before: str, after: str = "", progress: Progress | None = None,
                      halt: threading.Event | None = None) -> int:
        with self._maintenance() as conn:
            return retention.blank_prompts(conn, before, after, progress=progress, halt=halt)

    def vacuum(self, halt: threading.Event | None = None) -> int:
        with self._maintenance() as conn:
            return retention.vacuum(conn, halt=halt)
