"""SQLite retention mechanics (the policy, what to delete when, is ccmonitor/retention.py).

Safe beside a running server (or while `ccmonitor serve` runs in another process): every step is its
own short `BEGIN IMMEDIATE` transaction of at most `batch` rows, followed by a pause at least as long
as the transaction took, so the ingest writer (busy_timeout 5 s) always gets the lock within a few
milliseconds. A step that finds the database locked anyway (a writer holding it longer than
busy_timeout, or SQLITE_BUSY_SNAPSHOT, which busy_timeout never waits for) is retried with backoff
for up to LOCK_PATIENCE_S before it fails with one line (issue 9). Blanking keeps the event and its
prompt_length; it removes the `prompt` column and the prompt attributes the ingest side would drop
with store_prompts off. Space returns through `PRAGMA incremental_vacuum` (new databases are created
with auto_vacuum=INCREMENTAL; an older file keeps its size but reuses the freed pages).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from ccmonitor.errors import StoreBusy
from ccmonitor.store import Progress
from ccmonitor.store.health import LOCKED
from ccmonitor.store.sqlite.failures import kind
from ccmonitor.store.sqlite.schema import write_transaction
from ccmonitor.telemetry import PROMPT_BODY_EVENTS, PROMPT_KEYS

log = logging.getLogger(__name__)
TABLES = ("metrics", "events", "spans")
BATCH = 2000
LOCK_PATIENCE_S = 120.0  # how long one step waits out other writers before prune gives up
T = TypeVar("T")

_REMOVE = ", ".join(f"'$.{k}'" for k in PROMPT_KEYS)
_HAS_PROMPT = " OR ".join(f"json_type(custom_attributes, '$.{k}') IS NOT NULL" for k in PROMPT_KEYS)
_BODY = f"event_name IN ({', '.join(repr(e) for e in PROMPT_BODY_EVENTS)})"
BLANK = {  # table -> (rows still holding prompt text, the update that blanks them)
    "events": (f"(prompt IS NOT NULL OR {_HAS_PROMPT} OR ({_BODY} AND json_type(custom_attributes, '$.body')"
               " IS NOT NULL))",
               f"UPDATE events SET prompt = NULL, custom_attributes = CASE WHEN {_BODY} THEN "
               f"json_remove(custom_attributes, {_REMOVE}, '$.body') ELSE json_remove(custom_attributes, "
               f"{_REMOVE}) END"),
    "spans": (f"({_HAS_PROMPT})", f"UPDATE spans SET custom_attributes = json_remove(custom_attributes, {_REMOVE})"),
}


def patiently(conn: sqlite3.Connection, attempt: Callable[[], T], patience_s: float = LOCK_PATIENCE_S) -> T:
    """attempt(), again after a growing pause while the database is locked, for up to patience_s.
    A stale read snapshot (SQLITE_BUSY_SNAPSHOT) needs a new transaction, so ours is rolled back first."""
    deadline, pause = time.monotonic() + patience_s, 0.05
    while True:
        try:
            return attempt()
        except sqlite3.OperationalError as exc:
            if kind(exc) != LOCKED:
                raise
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if time.monotonic() + pause > deadline:
                raise StoreBusy(f"the database stayed locked for {patience_s:g} s (another process kept writing to"
                                " it); nothing more was changed, run the same command again later") from None
        time.sleep(pause)
        pause = min(pause * 2, 2.0)


def count(conn: sqlite3.Connection, before: str | None, prompts_before: str | None = None) -> dict[str, int]:
    """What prune() and blank_prompts() would touch (for --dry-run and the progress bar's totals)."""
    return patiently(conn, lambda: _count(conn, before, prompts_before))


def _count(conn: sqlite3.Connection, before: str | None, prompts_before: str | None) -> dict[str, int]:
    out = {}
    if before is not None:
        for t in TABLES:
            out[t] = conn.execute(f"SELECT COUNT(*) FROM {t} WHERE timestamp < ?", (before,)).fetchone()[0]
        out["metric_series"] = conn.execute(
            "SELECT COUNT(*) FROM metric_series WHERE updated_at < ?", (before,)).fetchone()[0]
    if prompts_before is not None:
        out["prompts"] = sum(conn.execute(f"SELECT COUNT(*) FROM {t} WHERE timestamp >= ? AND timestamp < ? "
                                          f"AND {cond}", (before or "", prompts_before)).fetchone()[0]
                             for t, (cond, _) in BLANK.items())
    return out


def _step(conn: sqlite3.Connection, sql: str, params: tuple[object, ...], patience_s: float) -> int:
    """One short write transaction, then yield the lock for at least as long as we held it."""
    def attempt() -> tuple[int, float]:
        with write_transaction(conn):  # BEGIN IMMEDIATE waits up to busy_timeout for the ingest writer
            started = time.monotonic()
            changed = conn.execute(sql, params).rowcount
        return changed, time.monotonic() - started

    changed, held = patiently(conn, attempt, patience_s)
    time.sleep(max(0.005, held))
    return changed


def prune(conn: sqlite3.Connection, before: str, batch: int = BATCH, progress: Progress | None = None,
          halt: threading.Event | None = None, patience_s: float = LOCK_PATIENCE_S) -> dict[str, int]:
    """Delete rows older than `before` (UTC text) and series state not updated since; returns counts."""
    done = dict.fromkeys((*TABLES, "metric_series"), 0)
    steps = [(t, f"DELETE FROM {t} WHERE id IN (SELECT id FROM {t} WHERE timestamp < ? ORDER BY timestamp "
                 f"LIMIT {int(batch)})") for t in TABLES]
    steps.append(("metric_series", "DELETE FROM metric_series WHERE series_key IN (SELECT series_key FROM "
                                   f"metric_series WHERE updated_at < ? LIMIT {int(batch)})"))
    for name, sql in steps:
        while not (halt and halt.is_set()):
            n = _step(conn, sql, (before,), patience_s)
            done[name] += n
            if progress and n:
                progress(name, n)
            if n < batch:
                break
    return done


def blank_prompts(conn: sqlite3.Connection, before: str, after: str = "", batch: int = BATCH,
                  progress: Progress | None = None, halt: threading.Event | None = None,
                  patience_s: float = LOCK_PATIENCE_S) -> int:
    """Remove prompt text from rows with after <= timestamp < before, keeping the rows."""
    total = 0
    for table, (cond, update) in BLANK.items():
        cursor = (after, 0)
        select = (f"SELECT timestamp, id FROM {table} WHERE (timestamp, id) > (?, ?) AND timestamp < ? AND {cond}"
                  f" ORDER BY timestamp, id LIMIT {int(batch)}")
        while not (halt and halt.is_set()):
            params = (*cursor, before)
            ids = patiently(conn, lambda: conn.execute(select, params).fetchall(), patience_s)  # noqa: B023 (called now)
            if not ids:
                break
            cursor = tuple(ids[-1])
            n = _step(conn, f"{update} WHERE id IN ({', '.join('?' * len(ids))})", tuple(i for _, i in ids), patience_s)
            total += n
            if progress:
                progress("prompts", n)
    return total


def vacuum(conn: sqlite3.Connection, pages: int = 1000, halt: threading.Event | None = None,
           patience_s: float = LOCK_PATIENCE_S) -> int:
    """Return free pages to the file system, a few at a time; returns the pages freed."""
    def attempt() -> tuple[int, float]:
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        if free == 0 or conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
            return 0, 0.0
        started = time.monotonic()
        # executescript steps the pragma to the end; execute() would stop after its first page
        conn.executescript(f"PRAGMA incremental_vacuum({min(free, int(pages))})")
        return free - conn.execute("PRAGMA freelist_count").fetchone()[0], time.monotonic() - started

    freed = 0
    while not (halt and halt.is_set()):
        n, took = patiently(conn, attempt, patience_s)
        if not n:
            break
        freed += n
        time.sleep(max(0.005, took))
    return freed
