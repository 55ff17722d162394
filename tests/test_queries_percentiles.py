"""Exact percentiles (queries/percentiles.py): the histogram route gives the value sorting every
duration gives, for ranges with whole days (histograms) and partial days (raw rows)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import stored
from ccmonitor.queries.percentiles import percentiles
from ccmonitor.queries.rollups import durations, nearest_rank, split_by
from test_queries_rollups import demo, demo_db, demo_postgres, ranges

__all__ = ["demo", "demo_db", "demo_postgres"]  # the fixtures, shared with test_queries_rollups


def test_percentiles_use_the_histograms_and_equal_sorting_every_duration(demo: Path | str) -> None:
    with stored.reader(demo) as conn:
        for f in ranges(3):
            for event, column in (("claude_code.api_request", "model"), ("claude_code.tool_result", "tool_name")):
                expected = {key: {p: nearest_rank(values, p) for p in (1, 50, 95, 100)}
                            for key, values in durations(conn, f, event, column).items()}
                assert expected and percentiles(conn, f, event, (1, 50, 95, 100)) == expected
        assert split_by(ranges(3)[-2], timedelta(days=1))[0] is not None
