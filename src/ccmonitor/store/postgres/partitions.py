"""Monthly partitions of `events` and `metrics`, created on demand before the write that needs them.

A month's partition is `events_y2026m11`, holding [2026-11-01, 2026-12-01) UTC. The writer asks for the
months of a transaction's rows before it begins (creating a partition takes a strong lock on its parent,
so it is its own short transaction); an advisory lock makes concurrent receivers create each once. The
known partitions are cached; retention may drop one behind the cache's back (in another process), so
the writer forgets the cache when an insert finds no partition for its row, and tries again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import psycopg

PARTITIONED = ("events", "metrics")
PARTITION_LOCK = (0x63636D6F, 2)  # pg_advisory_xact_lock(int4, int4): 'ccmo', partitions
NAME = re.compile(r"(events|metrics)_y(\d{4})m(\d{2})")
Month = tuple[int, int]  # (year, month)


def month_of(stored: str) -> Month:
    """The month of a stored timestamp ('YYYY-MM-DD HH:MM:SS.mmm', UTC)."""
    return int(stored[0:4]), int(stored[5:7])


def name(table: str, month: Month) -> str:
    return f"{table}_y{month[0]:04d}m{month[1]:02d}"


def start(month: Month) -> str:
    """The first instant of a month, as a timestamptz literal (year 10000 is fine for PostgreSQL)."""
    return f"{month[0]:04d}-{month[1]:02d}-01 00:00:00+00"


def following(month: Month) -> Month:
    return (month[0] + 1, 1) if month[1] == 12 else (month[0], month[1] + 1)


def existing(conn: psycopg.Connection) -> dict[str, list[Month]]:
    """The months each partitioned table has a partition for, oldest first."""
    rows = conn.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                        " WHERE i.inhparent IN ('events'::regclass, 'metrics'::regclass)").fetchall()
    out: dict[str, list[Month]] = {t: [] for t in PARTITIONED}
    for (relname,) in rows:
        m = NAME.fullmatch(relname)
        if m:
            out[m[1]].append((int(m[2]), int(m[3])))
    return {t: sorted(months) for t, months in out.items()}


class Partitions:
    """The partitions one writer knows exist; not thread-safe (the writer thread owns it)."""

    def __init__(self) -> None:
        self._known: set[tuple[str, Month]] = set()

    def forget(self) -> None:
        self._known.clear()

    def ensure(self, conn: psycopg.Connection, wanted: Iterable[tuple[str, Month]]) -> list[str]:
        """Create the partitions of (table, month) that don't exist yet; returns the names created.
        `conn` is in autocommit mode with no transaction open."""
        missing = set(wanted) - self._known
        if not missing:
            return []
        created = []
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", PARTITION_LOCK)
            have = {(t, m) for t, months in existing(conn).items() for m in months}
            for table, month in sorted(missing - have):
                conn.execute(f"CREATE TABLE {name(table, month)} PARTITION OF {table}"
                             f" FOR VALUES FROM ('{start(month)}') TO ('{start(following(month))}')")
                created.append(name(table, month))
            self._known |= have
        self._known |= missing
        return created


def wanted(events: Iterable[str], metrics: Iterable[str]) -> set[tuple[str, Month]]:
    """The (table, month) partitions rows with these timestamps go to."""
    return {("events", month_of(t)) for t in events} | {("metrics", month_of(t)) for t in metrics}
