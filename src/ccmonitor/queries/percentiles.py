"""Exact nearest-rank percentiles of durations (API latency per model, tool duration per tool)
without reading every duration in the range.

Step 1 counts the range's durations per bucket: whole UTC days from `rollup_durations` (or its
`_sets` twin under an attribute filter), the partial days at the edges from the raw rows. That gives
each key's count n, the rank k = ceil(p/100 * n), the bucket holding rank k and the rank inside it.
Step 2 reads that one bucket's rows in the range from the `events_<key>_durations` index (key,
bucket, time) and takes the value at that rank in duration order: the same value sorting every
duration would give. A filter the rollups can't apply (user, terminal, session) reads the durations
themselves, as those ranges are small.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from ccmonitor.queries.filters import Filters
from ccmonitor.queries.rollups import durations, nearest_rank, rollup_where, split_by
from ccmonitor.store import Reader
from ccmonitor.store.histograms import KEY_COLUMN

DAY = timedelta(days=1)
Result = dict[object, dict[int, int | float | None]]


def percentiles(conn: Reader, f: Filters, event: str, wanted: tuple[int, ...]) -> Result:
    """{model or tool (None if absent): {p: value}} for one event's durations in the range."""
    column = KEY_COLUMN[event]
    model = column == "model"  # tools have no model: the model filter does not apply to them
    bucket_expr, numeric = conn.sql.duration_bucket("duration_ms"), conn.sql.is_number("duration_ms")
    days, raws = split_by(f, DAY)
    if days is None:
        return {key: {p: nearest_rank(values, p) for p in wanted}
                for key, values in durations(conn, f, event, column).items()}
    counts: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))

    def collect(sql: str, params: list[object]) -> None:
        for key, bucket, n in conn.execute(sql, params):
            counts[key][bucket] += n

    rolled, rolled_params = rollup_where(conn.sql, f, "day", (days[0][:10], days[1][:10]), model=model,
                                         model_column="key")
    table = "rollup_durations_sets" if f.attributes else "rollup_durations"
    collect(f"SELECT key, bucket, SUM(n) FROM {table} WHERE event_name = ? AND {rolled} GROUP BY 1, 2",
            [event, *rolled_params])
    for part in raws:
        edge, edge_params = part.where(conn.sql, model=model)
        collect(f"SELECT COALESCE({column}, ''), {bucket_expr}, COUNT(*) FROM events"
                f" WHERE event_name = ? AND {numeric} AND {edge} GROUP BY 1, 2", [event, *edge_params])
    where, params = f.where(conn.sql, model=model)

    def value(key: str, buckets: dict[int, int], p: int) -> int | float | None:
        rank = -(-sum(buckets.values()) * p // 100)  # 1-based, as nearest_rank
        below = 0
        for bucket in sorted(buckets):
            if below + buckets[bucket] >= rank:
                break
            below += buckets[bucket]
        else:
            return None
        same_key = f"{column} = ?" if key else f"({column} IS NULL OR {column} = ?)"
        row = conn.execute(
            f"SELECT duration_ms FROM events {conn.sql.indexed_by(f'events_{column}_durations')}"
            f" WHERE event_name = '{event}' AND {same_key} AND {bucket_expr} = ? AND {numeric} AND {where}"
            " ORDER BY duration_ms LIMIT 1 OFFSET ?", [key, bucket, *params, rank - below - 1]).fetchone()
        return row[0] if row else None

    return {key or None: {p: value(key, buckets, p) for p in wanted} for key, buckets in counts.items()}
