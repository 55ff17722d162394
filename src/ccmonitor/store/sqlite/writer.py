"""SQLite's writer, on the shared queue and thread (store/writer.py): BEGIN IMMEDIATE, WAL.

SQLite allows one writer at a time anyway, so the single writer thread costs nothing in concurrency.
Each request is its own SAVEPOINT, so one bad batch fails alone. A database that stays locked past
busy_timeout becomes StoreBusy (503), never a silent drop. Readers use their own connections (WAL lets
them run beside the writer).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sqlite3
from pathlib import Path

from ccmonitor.errors import StoreBusy, StoreUnavailable
from ccmonitor.records import EVENT_COLUMNS, METRIC_COLUMNS, SPAN_COLUMNS, Batch, StoreResult
from ccmonitor.store.attribute_sets import record_sessions
from ccmonitor.store.health import FULL, LOCKED
from ccmonitor.store.series import SeriesState
from ccmonitor.store.sqlite import files
from ccmonitor.store.sqlite.dialect import Connection
from ccmonitor.store.sqlite.failures import classify, kind
from ccmonitor.store.sqlite.rollups import ROLLUP_KEYS, refresh_rollups
from ccmonitor.store.sqlite.schema import migrate, write_transaction
from ccmonitor.store.writer import HEARTBEAT_S, MAX_RECORDS_PER_TXN, Done, Work, Writer

__all__ = ["HEADROOM_BYTES", "HEARTBEAT_S", "MAX_RECORDS_PER_TXN", "SqliteWriter", "beat", "connect",
           "open_database"]
log = logging.getLogger(__name__)
_N_METRIC = len(METRIC_COLUMNS)
_SIGNAL = {"metrics": "metrics", "events": "logs"}  # rollup table -> the signal whose rows it sums
# A failed commit leaves its partly written WAL frames allocated, and a small write succeeds in that
# slack while the disk is still full (measured on tmpfs): after a full disk, the heartbeat also waits
# for this much free space, so /health does not flap between ok and full.
HEADROOM_BYTES = 1 << 20
HEARTBEAT = ("INSERT INTO heartbeat (id, at) VALUES (1, strftime('%Y-%m-%d %H:%M:%f', 'now'))"
             " ON CONFLICT (id) DO UPDATE SET at = excluded.at")


def _insert(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


INSERT_EVENT = _insert("events", EVENT_COLUMNS)
INSERT_METRIC = _insert("metrics", METRIC_COLUMNS)
INSERT_SPAN = _insert("spans", SPAN_COLUMNS)


def connect(path: Path, busy_timeout_ms: int = 5000, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False, factory=Connection)
    else:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, factory=Connection)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    return conn


def open_database(path: Path, synchronous: str = "FULL", busy_timeout_ms: int = 5000) -> sqlite3.Connection:
    """Open (creating if needed), migrate and write the heartbeat; returns the write connection in
    autocommit mode. A file that cannot be written now (full or read-only disk, no such directory) is
    StoreUnavailable naming the file and the cause, instead of a failure on the first export."""
    conn = None
    try:
        files.prepare(path)
        conn = connect(path, busy_timeout_ms)
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")  # only takes effect on a new file; lets prune shrink it
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
        conn.execute("PRAGMA cache_size = -65536")
        migrate(conn)
        try:
            beat(conn)
        except sqlite3.OperationalError as exc:
            if kind(exc) != LOCKED:  # locked: another process is writing, the file itself is fine
                raise
    except (OSError, sqlite3.Error) as exc:
        if conn is not None:
            conn.close()
        if isinstance(exc, sqlite3.Error) and kind(exc) is None:
            raise  # our SQL is wrong: a bug, keep its traceback
        raise StoreUnavailable(f"cannot open the database {path}: {files.cause(path, exc)}") from None
    return conn


def beat(conn: sqlite3.Connection) -> None:
    """One small real write: the heartbeat row (migration 0005)."""
    with write_transaction(conn):
        conn.execute(HEARTBEAT)


class SqliteWriter(Writer):
    """The write side. submit() is thread-safe and never blocks on the database."""

    errors = (sqlite3.Error,)

    def __init__(self, path: Path, *, synchronous: str = "FULL", busy_timeout_ms: int = 5000,
                 queue_max_records: int = 20_000, commit_timeout_s: float = 30.0) -> None:
        super().__init__(queue_max_records=queue_max_records, commit_timeout_s=commit_timeout_s)
        self.path = path
        self._conn = open_database(path, synchronous, busy_timeout_ms)
        self._series = SeriesState(self._conn)
        self.start()

    def _close_connection(self) -> None:
        self._conn.close()

    def _classify(self, exc: BaseException) -> tuple[str, str]:
        return classify(exc)

    def _beat(self) -> bool:
        try:
            if self.health.kind == FULL and shutil.disk_usage(self.path.parent).free < HEADROOM_BYTES:
                return False
            beat(self._conn)
        except OSError:  # the directory itself went away: still failing
            return False
        return True

    def _abort(self) -> None:
        if self._conn.in_transaction:  # SQLite has already rolled back after SQLITE_FULL or an I/O error
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
        self._series.txn_done(ok=False)

    def _committed(self) -> None:
        self._series.txn_done(ok=True)

    def _transaction(self, work: list[Work]) -> Done:
        """BEGIN IMMEDIATE .. COMMIT, each request in its own SAVEPOINT: a request whose rows the
        database refuses fails alone; an error of the store itself is raised."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        since = {t: conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM {t}").fetchone()[0] for t in ROLLUP_KEYS}
        done: Done = []
        for w in work:
            conn.execute("SAVEPOINT batch")
            try:
                result = self._write_batch(w.batch)
            except sqlite3.Error as exc:
                if kind(exc) is not None or not conn.in_transaction:
                    raise
                conn.execute("ROLLBACK TO batch")
                conn.execute("RELEASE batch")
                self._series.batch_done(ok=False)
                log.error("batch of %d %s rejected by the database: %s", w.batch.size, w.batch.signal, exc)
                w.future.set_exception(StoreBusy(f"database error: {exc}"))
                continue
            conn.execute("RELEASE batch")
            self._series.batch_done(ok=True)
            done.append((w, result))
        written = {w.batch.signal for w, _ in done}
        refresh_rollups(conn, {t: n for t, n in since.items() if _SIGNAL[t] in written})
        conn.execute("COMMIT")
        return done

    def _write_batch(self, batch: Batch) -> StoreResult:
        """Insert one request's rows; duplicates are resent records the unique dedup_key ignored."""
        conn = self._conn
        duplicates = 0
        record_sessions(conn, batch.attribute_sets, batch.session_sets)
        for sql, records in ((INSERT_EVENT, batch.events), (INSERT_SPAN, batch.spans)):
            if records:  # rowcount counts the statement's own rows, not what triggers (rollups) write
                duplicates += len(records) - conn.executemany(sql, records).rowcount
        if batch.metrics:
            rows: list[tuple[object, ...]] = []
            for p in batch.metrics:
                if not p.cumulative:
                    rows.append(p[:_N_METRIC])
                    continue
                if conn.execute("SELECT 1 FROM metrics WHERE timestamp = ? AND dedup_key = ?",
                                (p.timestamp, p.dedup_key)).fetchone():
                    duplicates += 1
                    continue
                step = self._series.increment(p)
                if step is None:
                    duplicates += 1
                elif step[0] != 0 or step[1]:
                    rows.append(p._replace(metric_value=step[0])[:_N_METRIC])
                # else: a zero increment after the first point is accepted but adds no row
            if rows:
                duplicates += len(rows) - conn.executemany(INSERT_METRIC, rows).rowcount
        return StoreResult(batch.size - duplicates, duplicates)
