"""The storage seam: one object per database owns every connection to it.

    Store ............ write side (submit, has_room, health, last_commit, queued) for ingest and
                       /health, restore_series for `copy`; read side (read) for queries/, web/,
                       reports and export; retention (count, prune, blank_prompts, vacuum); stats
                       and columns for /stats and export; tokens and secrets (store/access.py).
    Reader ........... one read snapshot handed to a query function by Store.read(): execute() with
                       `?` placeholders, rows indexable by position and by name, `sql` the Dialect.
    open_store() ..... the one factory: a file path opens SQLite (store/sqlite/), a postgresql:// URL
                       opens PostgreSQL (store/postgres/). A third backend is one more package here.

Nothing outside store/ imports a database driver or catches a driver's exception: a store raises
the error tree's own (StoreBusy for a read or write that may succeed later, StoreUnavailable when
the database cannot be opened at all).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ccmonitor.records import Batch, StoreResult
from ccmonitor.store.dialect import Dialect
from ccmonitor.store.health import WriterHealth

T = TypeVar("T")
Progress = Callable[[str, int], None]
SeriesRow = tuple[bytes, int, int, float]  # metric_series: key, start and last time (ns), last value
TABLES = ("metrics", "events", "spans")
URL_SCHEMES = ("postgresql://", "postgres://")


class Row(Protocol):
    def __getitem__(self, key: int | str) -> Any: ...
    def __iter__(self) -> Iterator[Any]: ...
    def __len__(self) -> int: ...
    def keys(self) -> list[str]: ...


class Cursor(Protocol):
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchmany(self, size: int = ...) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Reader(Protocol):
    sql: Dialect

    def execute(self, sql: str, params: Sequence[object] = ...) -> Cursor: ...


class Store(Protocol):
    location: str  # the file, or the URL without its password: safe to print
    health: WriterHealth
    last_commit: dict[str, float]

    # -- write side (ingest) -------------------------------------------------------------------
    def submit(self, batch: Batch) -> Future[StoreResult]: ...
    def has_room(self) -> bool: ...
    @property
    def queued(self) -> int: ...

    def restore_series(self, rows: Sequence[SeriesRow]) -> int:
        """Cumulative series states moved from another store (`ccmonitor copy`), each kept only where it
        is newer than the one stored (store/series.py's order: start time, then last time); how many
        rows changed. Without them the first cumulative export after a move would count its whole
        running total again."""
        ...

    # -- read side ------------------------------------------------------------------------------
    def read(self, fn: Callable[[Reader], T]) -> T:
        """fn(reader) inside one read snapshot, on a pooled connection; a store failure is StoreBusy."""
        ...

    def stream(self, sql: str, params: Sequence[object], chunk: int) -> Iterator[Row]:
        """Rows of one large SELECT in constant memory, from one snapshot (export)."""
        ...

    def columns(self, table: str) -> list[str]: ...
    def stats(self) -> dict[str, Any]: ...

    # -- retention -----------------------------------------------------------------------------
    def count(self, before: str | None, prompts_before: str | None = None) -> dict[str, int]: ...
    def prune(self, before: str, progress: Progress | None = None,
              halt: threading.Event | None = None) -> dict[str, int]: ...
    def blank_prompts(self, before: str, after: str = "", progress: Progress | None = None,
                      halt: threading.Event | None = None) -> int: ...
    def vacuum(self, halt: threading.Event | None = None) -> int: ...

    # -- tokens and secrets (store/access.py) -----------------------------------------------------
    def token(self, *, text: str | None = None, name: str | None = None) -> Any: ...
    def tokens(self) -> list[Any]: ...
    def any_token(self) -> bool: ...
    def create_token(self, name: str, role: str, attributes: dict[str, str], now: str) -> str: ...
    def revoke_token(self, name: str, now: str) -> bool: ...
    def touch_tokens(self, used: dict[str, str]) -> None: ...
    def secret(self, name: str) -> bytes: ...

    def close(self, timeout: float = 30.0) -> None: ...


def is_url(db: str | Path) -> bool:
    return isinstance(db, str) and db.startswith(URL_SCHEMES)


def open_store(db: str | Path, *, write: bool = True, busy_timeout_ms: int = 5000, synchronous: str = "FULL",
               queue_max_records: int = 20_000, commit_timeout_s: float = 30.0) -> Store:
    """The store for `db` (a SQLite file or a postgresql:// URL), migrated and writing when `write`;
    read-only (no migrations, no writer) otherwise. StoreUnavailable if it cannot be opened."""
    if is_url(db):
        from ccmonitor.store.postgres import PostgresStore
        return PostgresStore(str(db), write=write, queue_max_records=queue_max_records,
                             commit_timeout_s=commit_timeout_s)
    from ccmonitor.store.sqlite import SqliteStore
    return SqliteStore(Path(db), write=write, synchronous=synchronous, busy_timeout_ms=busy_timeout_ms,
                       queue_max_records=queue_max_records, commit_timeout_s=commit_timeout_s)
