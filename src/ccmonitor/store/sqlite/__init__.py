"""The SQLite store: the writer thread (writer.py), pooled read-only connections (reads.py) and the
retention steps (retention.py) over one file, behind the Store protocol of store/__init__.py."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from ccmonitor.errors import Overloaded
from ccmonitor.records import Batch, StoreResult
from ccmonitor.store import Progress, Reader, Row, SeriesRow
from ccmonitor.store.health import WriterHealth
from ccmonitor.store.sqlite import retention
from ccmonitor.store.sqlite.reads import SqliteReads, require
from ccmonitor.store.sqlite.writer import SqliteWriter, connect

T = TypeVar("T")


class SqliteStore:
    def __init__(self, path: Path, *, write: bool = True, synchronous: str = "FULL", busy_timeout_ms: int = 5000,
                 queue_max_records: int = 20_000, commit_timeout_s: float = 30.0) -> None:
        self.path = path
        self.location = str(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._writer: SqliteWriter | None = None
        if write:
            self._writer = SqliteWriter(path, synchronous=synchronous, busy_timeout_ms=busy_timeout_ms,
                                        queue_max_records=queue_max_records, commit_timeout_s=commit_timeout_s)
            self.health = self._writer.health
            self.last_commit = self._writer.last_commit
        else:
            require(path)
            self.health = WriterHealth(commit_timeout_s, alive=lambda: True)
            self.last_commit = {}
        self._reads = SqliteReads(path, busy_timeout_ms)

    # -- write side ------------------------------------------------------------------------------
    def submit(self, batch: Batch) -> Future[StoreResult]:
        if self._writer is None:
            raise Overloaded("this store was opened read-only")
        return self._writer.submit(batch)

    def has_room(self) -> bool:
        return self._writer is not None and self._writer.has_room()

    @property
    def queued(self) -> int:
        return self._writer.queued if self._writer else 0

    def restore_series(self, rows: Sequence[SeriesRow]) -> int:
        # The writer caches series states (store/series.py): a state written behind its back could be
        # older than its cache. `copy` only ever moves a history into PostgreSQL.
        raise NotImplementedError("series states are restored into PostgreSQL only (ccmonitor copy)")

    # -- read side -------------------------------------------------------------------------------
    def read(self, fn: Callable[[Reader], T]) -> T:
        return self._reads.read(fn)  # type: ignore[arg-type]  # a ReadConnection is a Reader

    def stream(self, sql: str, params: Sequence[object], chunk: int) -> Iterator[Row]:
        return self._reads.stream(sql, params, chunk)

    def columns(self, table: str) -> list[str]:
        return self._reads.columns(table)

    def stats(self) -> dict[str, Any]:
        return self._reads.stats()

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

    def close(self, timeout: float = 30.0) -> None:
        if self._writer is not None:
            self._writer.close(timeout)
        self._reads.close()
