"""Time series for the overview charts, all from the `metrics` table (increments, so per-bucket
sums are exact): tokens by type, cost by model, lines added/removed, active time by type."""

from __future__ import annotations

from typing import Any, cast

from ccmonitor import telemetry as names
from ccmonitor.queries.buckets import bucket_seconds, dense
from ccmonitor.queries.filters import Filters
from ccmonitor.queries.rollups import totals
from ccmonitor.store import Reader

SPLIT_COLUMNS = ("type", "model")


def metric_series(conn: Reader, f: Filters, metric: str, split: str, *,
                  model: bool = True, order: tuple[str, ...] = ()) -> dict[str, Any]:
    """SUM(metric_value) of one metric per time bucket, one series per value of `split`."""
    if split not in SPLIT_COLUMNS:
        raise ValueError(f"cannot split by {split!r}")
    size = bucket_seconds(f)
    sums = totals(conn, "metrics", f, (metric,), (split,), model=model, bucket=size)
    rows = [(cast(int, t), None if name is None else str(name), value) for (t, name), value in sums.items()]
    return dense(f, size, rows, order)


def tokens_over_time(conn: Reader, f: Filters) -> dict[str, Any]:
    return metric_series(conn, f, names.TOKENS, "type", order=names.TOKEN_TYPES)


def cost_over_time(conn: Reader, f: Filters) -> dict[str, Any]:
    out = metric_series(conn, f, names.COST, "model")
    out["series"] = {k: [round(v, 6) for v in vs] for k, vs in out["series"].items()}
    return out


def lines_over_time(conn: Reader, f: Filters) -> dict[str, Any]:
    return metric_series(conn, f, names.LINES, "type", order=("added", "removed"))


def active_time_over_time(conn: Reader, f: Filters) -> dict[str, Any]:
    # rounded as the tiles are: a float sum's last bits depend on the order rows are added in, which
    # differs between backends and between receivers writing at once
    out = metric_series(conn, f, names.ACTIVE_TIME, "type", model=False, order=("user", "cli"))
    out["series"] = {k: [round(v, 3) for v in vs] for k, vs in out["series"].items()}
    return out
