"""The PostgreSQL store: the writer thread (writer.py), pooled read snapshots (reads.py) and retention
(retention.py) over one database, behind the Store protocol of store/__init__.py. Any number of
processes may open a writing store on one database at once (issue #14)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import psycopg

from ccmonitor.errors import StoreBusy
from ccmonitor.store import Progress, SeriesRow
from ccmonitor.store.database import Database
from ccmonitor.store.postgres import failures, retention
from ccmonitor.store.postgres.reads import PostgresReads, placeholders
from ccmonitor.store.postgres.writer import PostgresWriter, connect, redact, restore_series


class PostgresStore(Database):
    def __init__(self, url: str, *, write: bool = True, queue_max_records: int = 20_000,
                 commit_timeout_s: float = 30.0) -> None:
        self.url = url
        writer = PostgresWriter(url, queue_max_records=queue_max_records, commit_timeout_s=commit_timeout_s) \
            if write else None
        super().__init__(redact(url), writer, lambda: PostgresReads(url), commit_timeout_s)

    def restore_series(self, rows: Sequence[SeriesRow]) -> int:
        try:
            with connect(self.url, application_name="ccmonitor-copy") as conn:
                return restore_series(conn, rows)
        except psycopg.Error as exc:
            raise StoreBusy(f"cannot write the series state: {failures.classify(exc)[1]}") from None

    def _change(self, statements: Sequence[tuple[str, Sequence[object]]]) -> list[Any]:
        try:
            with connect(self.url, application_name="ccmonitor-access") as conn, conn.transaction():
                rows: list[Any] = []
                for sql, params in statements:
                    cur = conn.execute(placeholders(sql), params)
                    rows = cur.fetchall() if cur.description else []
                return rows
        except psycopg.Error as exc:
            raise StoreBusy(f"cannot write to the database: {failures.classify(exc)[1]}") from None

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
