"""The time axis of every chart: bucket size from the range, SQL that buckets a stored timestamp,
and dense series (every bucket present, zeros where nothing happened) so charts never skip time.

Stored times are UTC text; the API hands out ISO-8601 with `Z` and the browser shows its own zone.
Buckets are aligned to UTC multiples of their size (a day bucket starts at 00:00 UTC).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime

from ccmonitor.queries.filters import Filters
from ccmonitor.store.dialect import Dialect

# Bucket sizes in seconds, smallest first; the first that gives at most MAX_BUCKETS wins. Past a week:
# 4, 13 and 52 weeks, then 520 and 5200, so even 1970..9999 (the widest range, queries/filters.py)
# stays within MAX_BUCKETS.
WEEK = 604800
LADDER = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, WEEK, 4 * WEEK, 13 * WEEK,
          52 * WEEK, 520 * WEEK, 5200 * WEEK)
MAX_BUCKETS = 120


def bucket_seconds(f: Filters) -> int:
    span = (f.until - f.since).total_seconds()
    for size in LADDER:
        if span / size <= MAX_BUCKETS:
            return size
    return LADDER[-1]


def bucket_sql(sql: Dialect, size: int, column: str = "timestamp") -> str:
    """An integer: the unix second at which `column`'s bucket starts. `size` is from LADDER (an int)."""
    return f"({sql.epoch(column)} / {int(size)}) * {int(size)}"


def iso(stored: str | None) -> str | None:
    """'2026-11-27 16:19:15.273' (stored, UTC) -> '2026-11-27T16:19:15.273Z'."""
    if stored is None:
        return None
    return stored.replace(" ", "T", 1) + ("Z" if "." in stored else ".000Z")


def stored_time(stored: str | None) -> datetime | None:
    """A stored timestamp as an aware UTC datetime; None for NULL or text typed in by hand in a form
    Python can't read (SQLite still compares it as text, so it may be inside a range)."""
    try:
        at = datetime.fromisoformat(stored or "")
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def iso_unix(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def axis(f: Filters, size: int) -> list[int]:
    """Every bucket start (unix seconds) that overlaps [since, until)."""
    start = int(f.since.timestamp()) // size * size
    return list(range(start, math.ceil(f.until.timestamp()), size))


def dense(f: Filters, size: int, rows: Iterable[tuple[int, str | None, float]],
          names: Iterable[str] = ()) -> dict[str, object]:
    """Rows of (bucket, series name, value) -> {"bucket_seconds", "t": [iso...], "series": {name: [..]}}.
    `names` are series always present (zeros if empty), in display order."""
    times = axis(f, size)
    index = {t: i for i, t in enumerate(times)}
    series: dict[str, list[float]] = {name: [0] * len(times) for name in names}
    for t, name, value in rows:
        i = index.get(t)
        if i is None:
            continue
        key = name if name is not None else "unknown"
        series.setdefault(key, [0] * len(times))[i] += value or 0
    return {"bucket_seconds": size, "t": [iso_unix(t) for t in times], "series": series}
