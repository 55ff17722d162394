"""Retention on PostgreSQL: drop whole expired partitions, delete only inside the edge partition,
blank prompt text, with the rollups exact throughout.

Safe beside any number of running receivers. A partition entirely older than the cutoff is dropped in
one short transaction that first locks `events` (or `metrics`), so no receiver adds to it meanwhile,
then subtracts it from the rollups (the hour and day rollup rows inside a month come from that month's
partition alone, so they are deleted whole), drops it, and finds again the bounds of the sessions that
started before its end (those left without any mark are removed). Rows older than the cutoff in the
edge partition (and in `spans`, which is not partitioned) are deleted in batches, each its own
transaction, where the statement-level delete triggers of migration 0001 subtract them. A step that
meets a lock held too long or a deadlock with a receiver runs again, with backoff, for up to
LOCK_PATIENCE_S; a store failure becomes StoreBusy (the store raises the error tree's own).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TypeVar

import psycopg

from ccmonitor.errors import StoreBusy
from ccmonitor.store import Progress
from ccmonitor.store.postgres import failures
from ccmonitor.store.postgres.partitions import PARTITIONED, Month, existing, following, month_of, name, start
from ccmonitor.store.postgres.writer import connect
from ccmonitor.telemetry import PROMPT_BODY_EVENTS, PROMPT_KEYS

TABLES = ("metrics", "events", "spans")
BATCH = 5000
LOCK_PATIENCE_S = 120.0
LOCK_TIMEOUT_MS = 5000  # a step waits this long for a lock, then yields and tries again later
T = TypeVar("T")
_RETRY = frozenset({"40P01", "40001", "55P03"})  # deadlock, serialization failure, lock_timeout
_KEYS = list(PROMPT_KEYS)
_BODY = list(PROMPT_BODY_EVENTS)
HOLDS_PROMPT = {  # table -> rows still holding prompt text (parameters: keys, body events)
    "events": "(prompt IS NOT NULL OR jsonb_exists_any(custom_attributes, %(keys)s::text[])"
              " OR (event_name = ANY(%(body)s::text[]) AND jsonb_exists(custom_attributes, 'body')))",
    "spans": "jsonb_exists_any(custom_attributes, %(keys)s::text[])",
}
BLANK = {  # table -> the assignments that blank a row
    "events": "prompt = NULL, custom_attributes = CASE WHEN event_name = ANY(%(body)s::text[])"
              " THEN custom_attributes - %(keys)s::text[] - 'body' ELSE custom_attributes - %(keys)s::text[] END",
    "spans": "custom_attributes = custom_attributes - %(keys)s::text[]",
}
ROLLUPS = {  # partitioned table -> (rollup, its time column)
    "events": (("rollup_events", "hour"), ("rollup_events_sets", "hour"), ("rollup_durations", "day"),
               ("rollup_durations_sets", "day")),
    "metrics": (("rollup_metrics", "hour"), ("rollup_metrics_sets", "hour"), ("rollup_metrics_users", "hour")),
}


@contextlib.contextmanager
def _connection(url: str) -> Iterator[psycopg.Connection]:
    try:
        conn = connect(url, application_name="ccmonitor-retention")
        conn.execute(f"SET lock_timeout = {LOCK_TIMEOUT_MS}")
    except psycopg.Error as exc:
        raise StoreBusy(f"retention cannot reach the database: {failures.classify(exc)[1]}") from None
    try:
        yield conn
    finally:
        conn.close()


def patiently(attempt: Callable[[], T], patience_s: float = LOCK_PATIENCE_S) -> T:
    """attempt(), again after a growing pause while it meets a lock or a deadlock, for up to patience_s."""
    deadline, pause = time.monotonic() + patience_s, 0.05
    while True:
        try:
            return attempt()
        except psycopg.Error as exc:
            if exc.sqlstate not in _RETRY:
                raise StoreBusy(f"retention stopped: {failures.classify(exc)[1]}; nothing more was changed,"
                                " run the same command again later") from None
            if time.monotonic() + pause > deadline:
                raise StoreBusy(f"the database stayed locked for {patience_s:g} s (receivers or readers kept"
                                " it); nothing more was changed, run the same command again later") from None
        time.sleep(pause)
        pause = min(pause * 2, 2.0)


def count(url: str, before: str | None, prompts_before: str | None = None) -> dict[str, int]:
    """What prune() and blank_prompts() would touch (for --dry-run and the progress bar's totals)."""
    with _connection(url) as conn:
        return patiently(lambda: _count(conn, before, prompts_before))


def _count(conn: psycopg.Connection, before: str | None, prompts_before: str | None) -> dict[str, int]:
    out: dict[str, int] = {}
    one = _one(conn)
    if before is not None:
        for t in TABLES:
            out[t] = one(f"SELECT count(*) FROM {t} WHERE timestamp < %(before)s::timestamptz", {"before": before})
        out["metric_series"] = one("SELECT count(*) FROM metric_series WHERE updated_at < %(before)s::timestamptz",
                                   {"before": before})
    if prompts_before is not None:
        params: dict[str, object] = {"after": before or "-infinity", "before": prompts_before, "keys": _KEYS,
                                     "body": _BODY}
        out["prompts"] = sum(one(f"SELECT count(*) FROM {t} WHERE timestamp >= %(after)s::timestamptz"
                                 f" AND timestamp < %(before)s::timestamptz AND {cond}", params)
                             for t, cond in HOLDS_PROMPT.items())
    return out


def _one(conn: psycopg.Connection) -> Callable[[str, Mapping[str, object]], int]:
    def one(sql: str, params: Mapping[str, object]) -> int:
        row = conn.execute(sql, params).fetchone()
        return int(row[0]) if row else 0
    return one


def prune(url: str, before: str, batch: int = BATCH, progress: Progress | None = None,
          halt: threading.Event | None = None, patience_s: float = LOCK_PATIENCE_S) -> dict[str, int]:
    """Delete rows older than `before` (UTC text) and series state not updated since; returns counts."""
    done = dict.fromkeys((*TABLES, "metric_series"), 0)

    def note(table: str, n: int) -> None:
        done[table] += n
        if progress and n:
            progress(table, n)

    with _connection(url) as conn:
        for table, months in patiently(lambda: existing(conn), patience_s).items():
            for month in months:
                if following(month) > month_of(before) or (halt and halt.is_set()):
                    break
                note(table, patiently(lambda: drop(conn, table, month), patience_s))  # noqa: B023 (called now)
        steps = [(t, f"DELETE FROM {t} WHERE (timestamp, dedup_key) IN (SELECT timestamp, dedup_key FROM {t}"
                     f" WHERE timestamp < %s::timestamptz ORDER BY timestamp LIMIT {int(batch)})") for t in TABLES]
        steps.append(("metric_series", "DELETE FROM metric_series WHERE series_key IN (SELECT series_key FROM"
                                       f" metric_series WHERE updated_at < %s::timestamptz LIMIT {int(batch)})"))
        for table, sql in steps:
            while not (halt and halt.is_set()):
                n = patiently(lambda: conn.execute(sql, (before,)).rowcount, patience_s)  # noqa: B023 (called now)
                note(table, n)
                if n < batch:
                    break
    return done


def drop(conn: psycopg.Connection, table: str, month: Month) -> int:
    """Drop one month's partition of `table`, subtracting it from the rollups first; returns its rows."""
    lo, hi = start(month), start(following(month))
    with conn.transaction():
        conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")  # no receiver adds to the month meanwhile
        partition = name(table, month)
        row = conn.execute(f"SELECT count(*) FROM {partition}").fetchone()
        for rollup, column in ROLLUPS[table]:
            bound = "::timestamptz" if column == "hour" else "::date"
            conn.execute(f"DELETE FROM {rollup} WHERE {column} >= %s{bound} AND {column} < %s{bound}",
                         (lo, hi) if column == "hour" else (lo[:10], _day(hi)))
        conn.execute(f"DROP TABLE {partition}")
        # the sessions that started before the month's end may have lost their first or last mark. Lock
        # them first: a receiver that moved one has committed by then, and the next statement (a newer
        # snapshot) sees its rows instead of undoing its move with bounds from before it
        conn.execute("SELECT 1 FROM rollup_sessions WHERE first_ts < %s::timestamptz ORDER BY session_id"
                     " FOR UPDATE", (hi,))
        conn.execute("UPDATE rollup_sessions r SET (first_ts, last_ts) = (SELECT b.first_ts, b.last_ts"
                     " FROM session_bounds(r.session_id) b) WHERE r.first_ts < %s::timestamptz", (hi,))
        conn.execute("DELETE FROM rollup_sessions WHERE first_ts IS NULL")
    return int(row[0]) if row else 0


def _day(bound: str) -> str:
    """'10000-01-01 00:00:00+00' -> '10000-01-01': the date part of a month bound."""
    return bound.split(" ", 1)[0]


def blank_prompts(url: str, before: str, after: str = "", batch: int = BATCH, progress: Progress | None = None,
                  halt: threading.Event | None = None, patience_s: float = LOCK_PATIENCE_S) -> int:
    """Remove prompt text from rows with after <= timestamp < before, keeping the rows."""
    total = 0
    with _connection(url) as conn:
        for table, cond in HOLDS_PROMPT.items():
            cursor: tuple[object, int] = (after or "-infinity", 0)
            update = (f"UPDATE {table} SET {BLANK[table]} WHERE (timestamp, id) IN (SELECT timestamp, id FROM {table}"
                      f" WHERE (timestamp, id) > (%(at)s::timestamptz, %(id)s) AND timestamp < %(before)s::timestamptz"
                      f" AND {cond} ORDER BY timestamp, id LIMIT {int(batch)}) RETURNING timestamp, id")
            while not (halt and halt.is_set()):
                params = {"at": cursor[0], "id": cursor[1], "before": before, "keys": _KEYS, "body": _BODY}
                rows = patiently(lambda: conn.execute(update, params).fetchall(), patience_s)  # noqa: B023
                if not rows:
                    break
                cursor = max((r[0], r[1]) for r in rows)
                total += len(rows)
                if progress:
                    progress("prompts", len(rows))
    return total


def vacuum(url: str, halt: threading.Event | None = None) -> int:
    """Nothing to do, returns 0: a dropped partition gives its space back at once; the rows deleted in the
    edge partition and the blanked prompts leave dead tuples that autovacuum makes reusable (a plain
    VACUUM never shrinks the files, and VACUUM FULL would lock the tables against the receivers)."""
    return 0


__all__ = ["PARTITIONED", "blank_prompts", "count", "drop", "prune", "vacuum"]
