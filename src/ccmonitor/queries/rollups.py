"""Sums and counts over a range: whole hours from the hourly rollups, everything else from raw rows.

`rollup_metrics` / `rollup_events` (store/schema.py, migration 0002) hold per-hour sums kept exact
by the writer and triggers, keyed by every column a panel groups by, plus the model; they have no
user, terminal or session column (an attribute filter reads their `*_sets` twins, split by attribute
set, store/attribute_sets.py). So a range is split: the whole hours inside it are read from the
rollups, the partial hours at its edges from the raw tables; a filter the rollups can't apply sends
the whole range to the raw tables (which then use the user or session indexes). Both halves group
by the same columns and are added in Python, so the answer is the raw answer, only cheaper.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from ccmonitor.queries.buckets import bucket_sql
from ccmonitor.queries.filters import Filters
from ccmonitor.store import Reader
from ccmonitor.store.dialect import Dialect
from ccmonitor.telemetry import utc_text

HOUR = timedelta(hours=1)
COLUMNS = {"metrics": frozenset({"metric_name", "type", "model", "tool", "decision", "language"}),
           "events": frozenset({"event_name", "model", "tool_name", "success", "decision"})}
MEASURE = {"metrics": ("metric_value", "value", "metric_name"),  # raw value, rollup sum, name column
           "events": (None, "n", "event_name")}  # records: counted
Key = tuple[object, ...]


def split(f: Filters, bucket: int | None = None) -> tuple[tuple[str, str] | None, list[Filters]]:
    """([first hour, end hour) for the rollup or None, the sub-ranges left for raw rows)."""
    return split_by(f, HOUR, bucket is None or bucket % 3600 == 0)


def split_by(f: Filters, unit: timedelta, usable: bool = True) -> tuple[tuple[str, str] | None, list[Filters]]:
    """split() for rollups of `unit` (an hour or a day) that start at midnight UTC."""
    usable = usable and not (f.users or f.terminals or f.sessions)

    def floor(t: datetime) -> datetime:
        t = t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC)
        midnight = t.replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight + (t - midnight) // unit * unit

    start = floor(f.since) if floor(f.since) == f.since else floor(f.since) + unit
    end = floor(f.until)
    if not usable or end - start < 2 * unit:
        return None, [f]
    edges = [replace(f, until=start), replace(f, since=end)]
    return (utc_text(start), utc_text(end)), [e for e in edges if e.since < e.until]


def totals(conn: Reader, table: str, f: Filters, names: tuple[str, ...], by: tuple[str, ...], *,
           model: bool = True, bucket: int | None = None) -> dict[Key, float]:
    """{(bucket?, *by values): sum} of metric_value (metrics) or of records (events) named `names`."""
    if not set(by) <= COLUMNS[table]:
        raise ValueError(f"cannot group {table} by {by}")
    raw_value, rollup_value, name_column = MEASURE[table]
    raw_measure = conn.sql.total(raw_value) if raw_value else "COUNT(*)"
    rollup_measure = conn.sql.total(rollup_value) if raw_value else f"SUM({rollup_value})"
    marks = ", ".join("?" * len(names))
    hours, raws = split(f, bucket)
    out: dict[Key, float] = defaultdict(float)

    def collect(sql: str, params: list[object]) -> None:
        for *key, value in conn.execute(sql, params):
            out[tuple(key)] += value or 0

    for part in raws:
        where, params = part.where(conn.sql, model=model)
        keys = ", ".join(([bucket_sql(conn.sql, bucket)] if bucket else []) + list(by))
        collect(f"SELECT {keys or 'NULL'}, {raw_measure} FROM {table} WHERE {name_column} IN ({marks}) AND {where}"
                f"{_group(keys)}", [*names, *params])
    if hours is not None:
        keys = ", ".join(([bucket_sql(conn.sql, bucket, "hour")] if bucket else []) + [f"NULLIF({c}, '')" for c in by])
        where, params = rollup_where(conn.sql, f, "hour", hours, model=model)
        source = f"rollup_{table}_sets" if f.attributes else f"rollup_{table}"
        collect(f"SELECT {keys or 'NULL'}, {rollup_measure} FROM {source} WHERE {name_column} IN ({marks})"
                f" AND {where}{_group(keys)}", [*names, *params])
    if not by and not bucket:
        return {(): sum(out.values())}
    return dict(out)


def _group(keys: str) -> str:
    """GROUP BY the keys; none: one total (PostgreSQL refuses GROUP BY a constant)."""
    return f" GROUP BY {keys}" if keys else ""


def whole(total: float) -> int | float:
    """A sum of counts as an int. A sum that overflowed (inf, or NaN from inf - inf) stays a float:
    only rows past ingest's bounds (ccmonitor/bounds.py) make one, and every view shows it as a
    missing number (queries/encoding.py)."""
    return int(total) if math.isfinite(total) else total


def rollup_where(sql: Dialect, f: Filters, column: str, span: tuple[str, str], *, model: bool = True,
                 model_column: str = "model") -> tuple[str, list[object]]:
    """The condition on a rollup for the whole units of a range: its time span, the model filter, and
    for an attribute filter (the `*_sets` rollups) the attribute sets it selects."""
    where, params = f"{column} >= ? AND {column} < ?", list[object]([*span])
    if model and f.models:
        where += f" AND {model_column} IN ({', '.join('?' * len(f.models))})"
        params += f.models
    if f.attributes:
        sets, set_params = f.attribute_sets(sql)
        where += f" AND attribute_set IN ({sets})"
        params += set_params
    return where, params


def durations(conn: Reader, f: Filters, event: str, group: str) -> dict[object, list[int]]:
    """Every duration_ms of one event in the range, sorted, per `group` (model or tool_name): the
    exact percentiles need the values; the `events_durations` index covers this read."""
    if group not in ("model", "tool_name"):
        raise ValueError(f"cannot group durations by {group!r}")
    where, params = f.where(conn.sql, model=group == "model")
    out: dict[object, list[int]] = defaultdict(list)
    for key, value in conn.execute(
            f"SELECT {group}, duration_ms FROM events WHERE event_name = ? AND {where}"
            f" AND {conn.sql.is_number('duration_ms')}",
            [event, *params]):
        out[key].append(value)
    for values in out.values():
        values.sort()
    return dict(out)


def nearest_rank(ordered: list[int], p: int) -> int | None:
    """The p-th percentile of sorted values: the value at rank ceil(p/100 * n) (nearest-rank)."""
    return ordered[-(-len(ordered) * p // 100) - 1] if ordered else None
