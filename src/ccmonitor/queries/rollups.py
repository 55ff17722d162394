"""Sums and counts over a range: whole hours from the hourly rollups, everything else from raw rows.

`rollup_metrics` / `rollup_events` (store/schema.py, migration 0002) hold per-hour sums kept exact
by triggers, keyed by every column a panel groups by, plus the model; they have no user, terminal,
session or attribute column. So a range is split: the whole hours inside it are read from the
rollups, the partial hours at its edges from the raw tables; a filter the rollups can't apply sends
the whole range to the raw tables (which then use the user or session indexes). Both halves group
by the same columns and are added in Python, so the answer is the raw answer, only cheaper.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta

from ccmonitor.queries.buckets import bucket_sql
from ccmonitor.queries.filters import Filters, utc_text

HOUR = timedelta(hours=1)
COLUMNS = {"metrics": frozenset({"metric_name", "type", "model", "tool", "decision", "language"}),
           "events": frozenset({"event_name", "model", "tool_name", "success", "decision"})}
MEASURE = {"metrics": ("SUM(metric_value)", "SUM(value)", "metric_name"),  # raw sum, rollup sum, name column
           "events": ("COUNT(*)", "SUM(n)", "event_name")}
Key = tuple[object, ...]


def _floor(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def split(f: Filters, bucket: int | None = None) -> tuple[tuple[str, str] | None, list[Filters]]:
    """([first hour, end hour) for the rollup or None, the sub-ranges left for raw rows)."""
    usable = not (f.users or f.terminals or f.sessions or f.attributes) and (bucket is None or bucket % 3600 == 0)
    start = _floor(f.since) if _floor(f.since) == f.since else _floor(f.since) + HOUR
    end = _floor(f.until)
    if not usable or end - start < 2 * HOUR:
        return None, [f]
    edges = [replace(f, until=start), replace(f, since=end)]
    return (utc_text(start), utc_text(end)), [e for e in edges if e.since < e.until]


def totals(conn: sqlite3.Connection, table: str, f: Filters, names: tuple[str, ...], by: tuple[str, ...], *,
           model: bool = True, bucket: int | None = None) -> dict[Key, float]:
    """{(bucket?, *by values): sum} of metric_value (metrics) or of records (events) named `names`."""
    if not set(by) <= COLUMNS[table]:
        raise ValueError(f"cannot group {table} by {by}")
    raw_measure, rollup_measure, name_column = MEASURE[table]
    marks = ", ".join("?" * len(names))
    hours, raws = split(f, bucket)
    out: dict[Key, float] = defaultdict(float)

    def collect(sql: str, params: list[object]) -> None:
        for *key, value in conn.execute(sql, params):
            out[tuple(key)] += value or 0

    for part in raws:
        where, params = part.where(model=model)
        keys = ", ".join(([bucket_sql(bucket)] if bucket else []) + list(by)) or "NULL"
        collect(f"SELECT {keys}, {raw_measure} FROM {table} WHERE {name_column} IN ({marks}) AND {where}"
                f" GROUP BY {keys}", [*names, *params])
    if hours is not None:
        keys = ", ".join(([bucket_sql(bucket, "hour")] if bucket else []) + [f"NULLIF({c}, '')" for c in by])
        where, params = "hour >= ? AND hour < ?", [*hours]
        if model and f.models:
            where += f" AND model IN ({', '.join('?' * len(f.models))})"
            params += f.models
        collect(f"SELECT {keys or 'NULL'}, {rollup_measure} FROM rollup_{table} WHERE {name_column} IN ({marks})"
                f" AND {where} GROUP BY {keys or 'NULL'}", [*names, *params])
    if not by and not bucket:
        return {(): sum(out.values())}
    return dict(out)


def durations(conn: sqlite3.Connection, f: Filters, event: str, group: str) -> dict[object, list[int]]:
    """Every duration_ms of one event in the range, sorted, per `group` (model or tool_name): the
    exact percentiles need the values; the `events_durations` index covers this read."""
    if group not in ("model", "tool_name"):
        raise ValueError(f"cannot group durations by {group!r}")
    where, params = f.where(model=group == "model")
    out: dict[object, list[int]] = defaultdict(list)
    for key, value in conn.execute(
            f"SELECT {group}, duration_ms FROM events WHERE event_name = ? AND {where} AND duration_ms IS NOT NULL",
            [event, *params]):
        out[key].append(value)
    for values in out.values():
        values.sort()
    return dict(out)


def nearest_rank(ordered: list[int], p: int) -> int | None:
    """The p-th percentile of sorted values: the value at rank ceil(p/100 * n) (nearest-rank)."""
    return ordered[-(-len(ordered) * p // 100) - 1] if ordered else None
