"""Duration buckets (store/histograms.py): every value lies inside its bucket's bounds, and a larger
value never falls in a lower bucket, so counting buckets finds the bucket of any rank."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

from ccmonitor.store.histograms import bucket_bounds, bucket_sql


@pytest.mark.parametrize("value", [-7.5, -1, 0, 0.4, 1, 9, 99, 99.9, 100, 101, 109.99, 110, 999, 1000, 1049, 1050,
                                   123456, 9_999_999, 10**15 + 3])
def test_duration_buckets_hold_their_values_in_order(value: float) -> None:
    with closing(sqlite3.connect(":memory:")) as conn:
        bucket, above = conn.execute(f"WITH v(d) AS (SELECT ?) SELECT {bucket_sql('d')}, {bucket_sql('d + 1')} FROM v",
                                     [value]).fetchone()
    low, high = bucket_bounds(bucket)
    assert low - 1 < value < high + 1
    if value >= 0 and value == int(value):
        assert low <= value < high
    assert above >= bucket  # a larger value never falls in a lower bucket
