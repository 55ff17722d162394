"""export: round trip (export -> counts and sums match, and a database loaded back reports the same),
time windows, and constant memory however large the table."""

from __future__ import annotations

import csv
import io
import json
import os
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest

import stored
from ccmonitor import export
from ccmonitor.queries.periods import report
from ccmonitor.store.sqlite.rollups import refresh_rollups
from ccmonitor.store.sqlite.writer import open_database
from stored import opened
from test_periods import ALL

SUMS = {"metrics": ("metric_value",), "events": ("cost_usd", "input_tokens", "output_tokens", "cache_read_tokens",
                                                 "cache_creation_tokens"), "spans": ("duration_ms",)}


def exported(db: Path | str, table: str, fmt: str, **window: datetime) -> tuple[list[str], list[dict]]:
    out = io.StringIO()
    with opened(db) as store:
        n = export.write(store, table, fmt, out, **window)
    text = out.getvalue()
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        names = text.split("\n", 1)[0].split(",")
    else:
        rows = [json.loads(line) for line in text.splitlines()]
        names = list(rows[0]) if rows else []
    assert len(rows) == n
    return names, rows


def number(value: object) -> float:
    return 0.0 if value in (None, "") else float(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", export.FORMATS)
@pytest.mark.parametrize("table", export.TABLES)
def test_counts_and_sums_match_the_table(captures_db: Path | str, table: str, fmt: str) -> None:
    names, rows = exported(captures_db, table, fmt)
    assert len(rows) == stored.scalar(captures_db, f"SELECT COUNT(*) FROM {table}") > 0
    for column in SUMS[table]:
        want = stored.scalar(captures_db, f"SELECT COALESCE(SUM({column}), 0) FROM {table}")
        assert sum(number(r[column]) for r in rows) == pytest.approx(want), column
    assert "dedup_key" not in names and names[:2] == ["id", "timestamp"]


def test_a_database_loaded_from_the_export_reports_the_same(captures_db: Path | str, tmp_path: Path) -> None:
    """Exported rows typed into a SQLite file by hand (the schema documented for it) report the same as
    the database they came from, of either backend."""
    copy = tmp_path / "loaded.db"
    conn = open_database(copy)
    for table in export.TABLES:
        names, rows = exported(captures_db, table, "jsonl")
        conn.executemany(f"INSERT INTO {table} ({', '.join(names)}, dedup_key) VALUES"
                         f" ({', '.join('?' * len(names))}, ?)", [(*r.values(), os.urandom(16)) for r in rows])
    refresh_rollups(conn, {"metrics": 0, "events": 0})  # rows loaded by hand reach the rollups this way
    conn.close()
    for name in ("daily", "sessions", "models", "tools"):
        assert stored.read(captures_db, lambda c: report(c, name, ALL)) == \
            stored.read(copy, lambda c: report(c, name, ALL)), name  # noqa: B023 (called now)


def test_window_since_until(captures_db: Path | str) -> None:
    since, until = datetime(2026, 11, 27, 16, 19, tzinfo=UTC), datetime(2026, 11, 27, 16, 20, tzinfo=UTC)
    _, rows = exported(captures_db, "events", "jsonl", since=since, until=until)
    want = stored.scalar(captures_db, "SELECT COUNT(*) FROM events WHERE timestamp >= '2026-11-27 16:19:00'"
                                      " AND timestamp < '2026-11-27 16:20:00'")
    assert len(rows) == want > 0
    assert all("2026-11-27 16:19" in r["timestamp"] for r in rows)
    assert [r["timestamp"] for r in rows] == sorted(r["timestamp"] for r in rows)


class Sink(io.TextIOBase):
    """Counts what is written and keeps none of it."""

    def __init__(self) -> None:
        self.chars = 0

    def write(self, s: str) -> int:
        self.chars += len(s)
        return len(s)


def peak_memory(db: Path | str, fmt: str) -> tuple[int, int]:
    """(characters written, peak bytes allocated) of one export."""
    sink = Sink()
    with opened(db) as store:
        tracemalloc.start()
        try:
            export.write(store, "events", fmt, sink)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    return sink.chars, peak


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_memory_stays_flat_however_many_rows(db_target: Path | str, fmt: str) -> None:
    stored.fill(db_target, 4_000, "2026-01-01 00:00:00.000")
    small_chars, small_peak = peak_memory(db_target, fmt)
    stored.fill(db_target, 16_000, "2026-01-01 00:00:00.000")
    large_chars, large_peak = peak_memory(db_target, fmt)
    assert large_chars > 4.5 * small_chars and large_chars > 8_000_000
    assert large_peak < 1.3 * small_peak  # five times the rows, the same memory: one chunk at a time
    assert large_peak < large_chars / 3


def test_unknown_table_or_format_is_refused(captures_db: Path | str) -> None:
    with opened(captures_db) as store:
        with pytest.raises(ValueError, match="unknown table"):
            export.write(store, "schema_migrations", "csv", io.StringIO())
        with pytest.raises(ValueError, match="unknown format"):
            export.write(store, "events", "xml", io.StringIO())
