"""Time series for the overview charts, all from the `metrics` table (increments, so per-bucket
sums are exact): tokens by type, cost by model, lines added/removed, active time by type."""

from __future__ import annotations

import sqlite3
from typing import Any

from ccmonitor.queries import names
from ccmonitor.queries.buckets import bucket_seconds, bucket_sql, dense
from ccmonitor.queries.filters import Filters

SPLIT_COLUMNS = ("type", "model")


def metric_series(conn: sqlite3.Connection, f: Filters, metric: str, split: str, *,
                  model: bool = True, order: tuple[str, ...] = ()) -> dict[str, Any]:
    """SUM(metric_value) of one metric per time bucket, one series per value of `split`."""
    if split not in SPLIT_COLUMNS:
        raise ValueError(f"cannot split by {split!r}")
    size = bucket_seconds(f)
    where, params = f.where(model=model)
    rows = conn.execute(
        f"SELECT {bucket_sql(size)} AS t, {split}, SUM(metric_value) FROM metrics"
        f" WHERE metric_name = ? AND {where} GROUP BY t, {split}",
        [metric, *params],
    ).fetchall()
    return dense(f, size, rows, order)


def tokens_over_time(conn: sqlite3.Connection, f: Filters) -> dict[str, Any]:
    return metric_series(conn, f, names.TOKENS, "type", order=names.TOKEN_TYPES)


def cost_over_time(conn: sqlite3.Connection, f: Filters) -> dict[str, Any]:
    out = metric_series(conn, f, names.COST, "model")
    out["series"] = {k: [round(v, 6) for v in vs] for k, vs in out["series"].items()}
    return out


def lines_over_time(conn: sqlite3.Connection, f: Filters) -> dict[str, Any]:
    return metric_series(conn, f, names.LINES, "type", order=("added", "removed"))


def active_time_over_time(conn: sqlite3.Connection, f: Filters) -> dict[str, Any]:
    return metric_series(conn, f, names.ACTIVE_TIME, "type", model=False, order=("user", "cli"))
