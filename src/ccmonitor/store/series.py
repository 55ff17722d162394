"""CUMULATIVE -> increments, per series, with state that survives restarts.

A cumulative point carries the running total since `start_time_unix_nano`; we store what it added
since the last point of the same series. Rules (OTLP data model, "Sums: delta-to-cumulative"):
  * first point of a series: the whole value (everything since its start),
  * same start, later time: value - last value; a drop of a monotonic sum is a reset (store value),
  * a newer start time is a reset too (store value),
  * a point not newer than the last one (a resend, or a retry that lost a race) adds nothing.
State changes are staged per batch and only reach the cache when the transaction commits, so a rolled
back batch never moves a series forward. The table is the truth; the cache is an LRU in front of it.
The rule itself is advance(), which the PostgreSQL writer calls too (it reads the state under a lock
instead of caching it: another receiver may have moved the series since).
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict

from ccmonitor.records import MetricPoint

State = tuple[int, int, float]  # start_time_unix_nano, last_time_unix_nano, last_value


def advance(prev: State | None, p: MetricPoint) -> float | None:
    """What cumulative point p adds to its series, whose last state is `prev` (None: p is its first
    point); None when p is not newer than the last point (it adds nothing and leaves the state)."""
    value, start, t = p.metric_value, p.start_time_unix_nano, p.time_unix_nano
    if prev is None:
        return value
    p_start, p_time, p_value = prev
    if start < p_start or (start == p_start and t <= p_time):
        return None
    if start > p_start or (p.monotonic and value < p_value):
        return value
    return value - p_value


def state_after(p: MetricPoint) -> State:
    return p.start_time_unix_nano, p.time_unix_nano, p.metric_value


class SeriesState:
    def __init__(self, conn: sqlite3.Connection, capacity: int = 100_000) -> None:
        self._conn = conn
        self._capacity = capacity
        self._cache: OrderedDict[bytes, State] = OrderedDict()
        self._txn: dict[bytes, State] = {}
        self._batch: dict[bytes, State] = {}

    def increment(self, p: MetricPoint) -> tuple[float, bool] | None:
        """(increment, first point of its series) for p, or None if p is stale. Stages p's state."""
        prev = self._get(p.series_key)
        inc = advance(prev, p)
        if inc is None:
            return None
        start, t, value = self._batch[p.series_key] = state_after(p)
        self._conn.execute(
            "INSERT OR REPLACE INTO metric_series VALUES (?, ?, ?, ?, datetime('now'))",
            (p.series_key, start, t, value),
        )
        return inc, prev is None

    def _get(self, key: bytes) -> State | None:
        for layer in (self._batch, self._txn):
            if key in layer:
                return layer[key]
        state = self._cache.get(key)
        if state is not None:
            self._cache.move_to_end(key)
            return state
        row = self._conn.execute(
            "SELECT start_time_unix_nano, last_time_unix_nano, last_value FROM metric_series"
            " WHERE series_key = ?",
            (key,),
        ).fetchone()
        return tuple(row) if row else None  # type: ignore[return-value]

    def batch_done(self, ok: bool) -> None:
        if ok:
            self._txn.update(self._batch)
        self._batch.clear()

    def txn_done(self, ok: bool) -> None:
        if ok:
            for key, state in self._txn.items():
                self._cache[key] = state
                self._cache.move_to_end(key)
            while len(self._cache) > self._capacity:
                self._cache.popitem(last=False)
        self._txn.clear()
        self._batch.clear()
