"""Duration buckets (store/histograms.py): ordered like their values, so counting buckets finds the
bucket of any rank; exact below 100 ms and two significant digits above."""

from __future__ import annotations

import random
import sqlite3
from contextlib import closing

from ccmonitor.store.histograms import bucket_sql


def buckets(values: list[float]) -> list[int]:
    with closing(sqlite3.connect(":memory:")) as conn:
        conn.execute("CREATE TABLE v (d)")
        conn.executemany("INSERT INTO v VALUES (?)", [(v,) for v in values])
        return [r[0] for r in conn.execute(f"SELECT {bucket_sql('d')} FROM v ORDER BY d")]


def test_a_larger_value_never_falls_in_a_lower_bucket() -> None:
    rng = random.Random(7)
    values = [-7.5, -1, 0, 0.4, 1, 9, 99, 99.9, 100, 101, 109.99, 110, 999, 1000, 1049, 1050, 123456, 10**15 + 3,
              *(rng.lognormvariate(7, 2) for _ in range(5000)), *(rng.randrange(0, 200_000) for _ in range(5000))]
    got = buckets(values)
    assert got == sorted(got)


def test_exact_below_100_ms_then_two_significant_digits() -> None:
    assert buckets(list(range(100))) == list(range(100))
    assert len(set(buckets(list(range(100, 1000))))) == 90  # 100-109, 110-119, ..., 990-999
    assert len(set(buckets(list(range(1000, 10000, 7))))) == 90
    assert len(set(buckets([1000, 1099]))) == 1 and len(set(buckets([1099, 1100]))) == 2
