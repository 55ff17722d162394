"""Exact percentiles of durations without reading every duration (migration 0004).

`rollup_durations` counts, per UTC day, event, key (the model of an api_request, the tool of a
tool_result) and duration bucket, how many durations fell there. A percentile is then found in two
steps (queries/percentiles.py): the bucket that holds the wanted rank comes from the counts, and the
exact value from an index on (key, bucket, time), reading only that bucket's rows in the range. Buckets are two
significant digits (90 per decade, 1-10 % wide), below 100 ms one per millisecond; the bucket of a
value is computed by the same SQL expression everywhere, so the counts and the index always agree.
"""

from __future__ import annotations

from ccmonitor.store.aggregates import Rollup

API_REQUEST = "claude_code.api_request"
TOOL_RESULT = "claude_code.tool_result"
KEY_COLUMN = {API_REQUEST: "model", TOOL_RESULT: "tool_name"}  # what each event's durations are grouped by


def is_number(d: str) -> str:
    """The durations that count (a text value the decoder could not parse stays out everywhere)."""
    return f"typeof({d}) IN ('integer', 'real')"


def bucket_sql(d: str) -> str:
    i = f"CAST({d} AS INTEGER)"
    return f"(CASE WHEN {d} < 100 THEN {i} ELSE length({i}) * 100 + CAST(substr({i}, 1, 2) AS INTEGER) END)"


DURATIONS = Rollup(
    name="rollup_durations",
    source="events",
    keys=(("day", "substr({r}.timestamp, 1, 10)"), ("event_name", "{r}.event_name"),
          ("key", f"CASE {{r}}.event_name WHEN '{API_REQUEST}' THEN {{r}}.model ELSE {{r}}.tool_name END"),
          ("bucket", bucket_sql("{r}.duration_ms"))),
    total=("n", "1"),
    when=f"{{r}}.event_name IN ('{API_REQUEST}', '{TOOL_RESULT}') AND {is_number('{r}.duration_ms')}",
    watched=("timestamp", "event_name", "model", "tool_name", "duration_ms"),
)
