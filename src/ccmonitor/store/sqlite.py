"""SQLite store: one writer thread fed by a bounded queue, group commit, WAL.

Why a single writer: SQLite allows one writer at a time anyway; one thread that owns the write
connection turns many concurrent requests into few transactions (group commit), so durability
(synchronous=FULL, an fsync per commit) costs little throughput. A request's future resolves only
after the COMMIT that holds its rows returned: acknowledged means stored. Each request is its own
SAVEPOINT, so one bad batch fails alone. A full queue or a database that stays locked past
busy_timeout becomes Overloaded/StoreBusy (503), never a silent drop. Readers use their own
connections (WAL lets them run beside the writer). The writer records what each transaction met in
`health` (store/health.py), which is all /health reads.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sqlite3
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from ccmonitor.errors import Overloaded, StoreBusy, StoreUnavailable
from ccmonitor.records import EVENT_COLUMNS, METRIC_COLUMNS, SPAN_COLUMNS, Batch, StoreResult
from ccmonitor.store import files
from ccmonitor.store.attribute_sets import record_sessions
from ccmonitor.store.health import FULL, LOCKED, WriterHealth, kind
from ccmonitor.store.schema import ROLLUP_KEYS, migrate, refresh_rollups, write_transaction
from ccmonitor.store.series import SeriesState

log = logging.getLogger(__name__)
MAX_RECORDS_PER_TXN = 20_000
_N_METRIC = len(METRIC_COLUMNS)
_SIGNAL = {"metrics": "metrics", "events": "logs"}  # rollup table -> the signal whose rows it sums
HEARTBEAT_S = 2.0  # while failing, an idle writer tries a real write this often
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
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
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


@dataclass(slots=True)
class _Work:
    batch: Batch
    future: Future[StoreResult] = field(default_factory=Future)


class SqliteStore:
    """The write side. submit() is thread-safe and never blocks on the database."""

    def __init__(self, path: Path, *, synchronous: str = "FULL", busy_timeout_ms: int = 5000,
                 queue_max_records: int = 20_000, commit_timeout_s: float = 30.0) -> None:
        self.path = path
        self._conn = open_database(path, synchronous, busy_timeout_ms)
        self._series = SeriesState(self._conn)
        self._queue: deque[_Work] = deque()
        self._queued = 0
        self._max = queue_max_records
        self._cv = threading.Condition()
        self._stopping = False
        self.last_commit: dict[str, float] = {}
        self._thread = threading.Thread(target=self._run, name="ccmonitor-writer", daemon=True)
        self.health = WriterHealth(commit_timeout_s, alive=lambda: self._thread.is_alive() or self._stopping)
        self._thread.start()

    # -- write side -------------------------------------------------------------------------
    def submit(self, batch: Batch) -> Future[StoreResult]:
        work = _Work(batch)
        n = batch.size
        with self._cv:
            if self._stopping:
                raise Overloaded("server is shutting down")
            if self._queued and self._queued + n > self._max:
                raise Overloaded(f"write queue full ({self._queued} records waiting)")
            self._queue.append(work)
            self._queued += n
            self._cv.notify()
        return work.future

    def has_room(self) -> bool:
        """Cheap check before decoding: a full queue refuses new work without spending CPU on it."""
        return not self._stopping and self._queued < self._max

    @property
    def queued(self) -> int:
        return self._queued

    def close(self, timeout: float = 30.0) -> None:
        """Stop taking work, commit everything queued, then close."""
        with self._cv:
            self._stopping = True
            self._cv.notify()
        self._thread.join(timeout)
        self._conn.close()

    # -- writer thread ----------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cv:
                if not self._queue and not self._stopping:
                    self._cv.wait(HEARTBEAT_S if self.health.reason else None)
                if self._stopping and not self._queue:
                    return
                work: list[_Work] = []
                n = 0
                while self._queue and n < MAX_RECORDS_PER_TXN:
                    w = self._queue.popleft()
                    work.append(w)
                    n += w.batch.size
            if not work:  # idle: while failing, find out whether the cause went away
                if self.health.reason:
                    self._heartbeat()
                continue
            try:
                self._write(work)
            except BaseException as exc:  # never let the writer die with requests waiting
                log.exception("writer failed")
                self._fail(work, StoreBusy(f"store error: {type(exc).__name__}"))
            finally:
                with self._cv:
                    self._queued -= n

    def _fail(self, work: list[_Work], exc: Exception) -> None:
        for w in work:
            if not w.future.done():
                w.future.set_exception(exc)

    def _heartbeat(self) -> None:
        try:
            if self.health.kind == FULL and shutil.disk_usage(self.path.parent).free < HEADROOM_BYTES:
                return
            beat(self._conn)
        except sqlite3.Error as exc:
            self.health.failed(exc)
            return
        except OSError:  # the directory itself went away: still failing
            return
        self.health.written()

    def _write(self, work: list[_Work]) -> None:
        """One transaction over the work; answers every request's future."""
        self.health.begin()
        try:
            done = self._transaction(work)
        except sqlite3.Error as exc:  # the store failed, not a request: all of them get 503
            if self._conn.in_transaction:  # SQLite has already rolled back after SQLITE_FULL or an I/O error
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
            self._series.txn_done(ok=False)
            self.health.failed(exc)
            self._fail(work, StoreBusy(f"database not writable: {exc}"))
            return
        finally:
            self.health.end()
        self._series.txn_done(ok=True)
        self.health.written()
        now = time.time()
        for w, result in done:
            self.last_commit[w.batch.signal] = now
            w.future.set_result(result)

    def _transaction(self, work: list[_Work]) -> list[tuple[_Work, StoreResult]]:
        """BEGIN IMMEDIATE .. COMMIT, each request in its own SAVEPOINT: a request whose rows the
        database refuses fails alone; an error of the store itself is raised."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        since = {t: conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM {t}").fetchone()[0] for t in ROLLUP_KEYS}
        done: list[tuple[_Work, StoreResult]] = []
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
