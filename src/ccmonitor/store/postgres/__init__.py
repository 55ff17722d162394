"""The PostgreSQL store: the writer thread (writer.py), pooled read snapshots (reads.py) and retention
(retention.py) over one database, behind the Store protocol of store/__init__.py. Any number of
processes may open a writing store on one database at once (issue #14)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

import psycopg

from ccmonitor.errors import Overloaded, StoreBusy
from ccmonitor.records import Batch, StoreResult
from ccmonitor.store import Progress, Reader, Row, SeriesRow
from ccmonitor.store.health import WriterHealth
from ccmonitor.store.postgres import failures, retention
from ccmonitor.store.postgres.reads import PostgresReads
from ccmonitor.store.postgres.writer import PostgresWriter, connect, redact, restore_series

T = TypeVar("T")


class PostgresStore:
    def __init__(self, url: str, *, write: bool = True, queue_max_records: int = 20_000,
                 commit_timeout_s: float = 30.0) -> None:
        self.url = url
        self.location = redact(url)
        self._writer: PostgresWriter | None = None
        self.last_commit: dict[str, float]
        if write:
            self._writer = PostgresWriter(url, queue_max_records=queue_max_records, commit_timeout_s=commit_timeout_s)
            self.health = self._writer.health
            self.last_commit = self._writer.last_commit
        else:
            self.health = WriterHealth(commit_timeout_s, alive=lambda: True)
            self.last_commit = {}
        try:
            self._reads = PostgresReads(url)
        except BaseException:
            if self._writer is not None:
                self._writer.close()
            raise

    # -- write side ------------------------------------------------------------------------------
    def submit(self, batch: Batch) -> Future[StoreResult]:
        if self._writer is None:
            raise Overloaded("read-only store")
        return self._writer.submit(batch)

    def has_room(self) -> bool:
        return self._writer is not None and self._writer.has_room()

    @property
    def queued(self) -> int:
        return self._writer.queued if self._writer else 0

    def restore_series(self, rows: Sequence[SeriesRow]) -> int:
        try:
            with connect(self.url, application_name="ccmonitor-copy") as conn:
                return restore_series(conn, rows)
        except psycopg.Error as exc:
            raise StoreBusy(f"cannot write the series state: {failures.classify(exc)[1]}") from None

    # -- read side -------------------------------------------------------------------------------
    def read(self, fn: Callable[[Reader], T]) -> T:
        return self._reads.read(fn)  # type: ignore[arg-type]  # its reader is a Reader

    def stream(self, sql: str, params: Sequence[object], chunk: int) -> Iterator[Row]:
        return self._reads.stream(sql, params, chunk)

    def columns(self, table: str) -> list[str]:
        return self._reads.columns(table)

    def stats(self) -> dict[str, Any]:
        return self._reads.stats()

    # -- retention: short transactions on a connection of their own, beside the writers ------------
    def count(self, before: str | None, prompts_before: str | None = None) -> dict[str, int]:
        return retention.count(self.url, before, prompts_before)

    def prune(self, before: str, progress: Progress | None = None,
              halt: threading.Event | None = None) -> dict[str, int]:
        return retention.prune(self.url, before, progress=progress, halt=halt)

    def blank_prompts(self, before: str, after: str = "", progress: Progress | None = None,
                      halt: threading.Event | None = None) -> int:
        return retention.blank_prompts(self.url, before, after, progress=progress, halt=halt)

    def vacuum(self, halt: threading.Event | None = None) -> int:
        return retention.vacuum(self.url, halt=halt)

    def close(self, timeout: float = 30.0) -> None:
        if self._writer is not None:
            self._writer.close(timeout)
        self._reads.close()
