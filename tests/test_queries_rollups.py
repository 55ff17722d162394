"""The hourly rollups (migration 0002) stay exact: equal to the raw rows after inserts, deletes and
updates, and a range answered from rollup + raw edges equals the same range answered from raw rows."""

from __future__ import annotations

import random
import sqlite3
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from ccmonitor.demo import demo_command
from ccmonitor.queries import reader
from ccmonitor.queries.filters import Filters
from ccmonitor.queries.models import models
from ccmonitor.queries.rollups import split, totals
from ccmonitor.queries.series import tokens_over_time
from ccmonitor.queries.tiles import tiles
from ccmonitor.queries.tools import edit_decisions, tool_usage
from ccmonitor.store.sqlite import open_database

END = datetime(2026, 11, 27, 12, tzinfo=UTC)
METRIC_KEY = "substr(timestamp, 1, 13), metric_name, type, model, tool, decision, language"
EVENT_KEY = "substr(timestamp, 1, 13), event_name, model, tool_name, success, decision"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("rollups") / "demo.db"
    result = CliRunner().invoke(demo_command, ["--users", "5", "--days", "4", "--end", END.isoformat(),
                                               "--traces", "0", "--db", str(db)])
    assert result.exit_code == 0, result.output
    return db


def assert_rollups_exact(conn: sqlite3.Connection) -> None:
    for table, key, measure, rolled in (("metrics", METRIC_KEY, "SUM(metric_value)", "value"),
                                        ("events", EVENT_KEY, "COUNT(*)", "n")):
        raw = {tuple("" if v is None else v for v in row[:-1]): row[-1] for row in conn.execute(
            f"SELECT {key}, {measure} FROM {table} GROUP BY {key}")}
        cols = key.replace("substr(timestamp, 1, 13)", "substr(hour, 1, 13)")
        rollup = {tuple(row[:-1]): row[-1] for row in conn.execute(f"SELECT {cols}, {rolled} FROM rollup_{table}")}
        assert rollup.keys() == raw.keys(), table
        for k, v in raw.items():
            assert rollup[k] == pytest.approx(v, rel=1e-9, abs=1e-9), (table, k)
    marks = ("SELECT session_id, MIN(timestamp), MAX(timestamp) FROM (SELECT session_id, timestamp FROM metrics"
             " WHERE metric_name IN ('claude_code.session.count', 'claude_code.active_time.total') UNION ALL"
             " SELECT session_id, timestamp FROM events WHERE event_name = 'claude_code.user_prompt')"
             " WHERE session_id IS NOT NULL GROUP BY session_id")
    assert set(conn.execute(marks)) == set(conn.execute("SELECT session_id, first_ts, last_ts FROM rollup_sessions"))


def test_rollups_equal_raw_rows_through_inserts_deletes_and_updates(demo_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "copy.db"
    with closing(sqlite3.connect(demo_db)) as src, closing(sqlite3.connect(db)) as dst:
        src.backup(dst)
    conn = open_database(db)
    try:
        assert_rollups_exact(conn)
        conn.execute("DELETE FROM metrics WHERE timestamp < (SELECT datetime(MIN(timestamp), '+1 day') FROM metrics)")
        conn.execute("DELETE FROM events WHERE id % 7 = 0")
        conn.execute("UPDATE metrics SET metric_value = metric_value * 2, timestamp = datetime(timestamp, '+3 hours')"
                     " WHERE id % 5 = 0")
        conn.execute("UPDATE events SET model = 'renamed', session_id = 'moved' WHERE id % 11 = 0")
        assert_rollups_exact(conn)
        conn.execute("DELETE FROM metrics")
        conn.execute("DELETE FROM events")
        assert conn.execute("SELECT COUNT(*) FROM rollup_metrics").fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM rollup_sessions").fetchone()[0] == 0
    finally:
        conn.close()


def test_migration_builds_rollups_for_existing_rows(demo_db: Path, tmp_path: Path) -> None:
    """A database written before 0002 gets its rollups from the rows already there."""
    db = tmp_path / "old.db"
    with closing(sqlite3.connect(demo_db)) as src, closing(sqlite3.connect(db)) as dst:
        src.backup(dst)
        made = dst.execute("SELECT type, name FROM sqlite_master WHERE type IN ('table', 'trigger')"
                           " AND name LIKE 'rollup_%' OR name IN ('events_durations', 'metrics_user', 'events_user')"
                           " ORDER BY type = 'table'").fetchall()
        for kind, name in made:
            dst.execute(f"DROP {kind.upper()} {name}")
        dst.execute("DELETE FROM schema_migrations WHERE name = '0002_dashboard_rollups'")
        dst.commit()
    conn = open_database(db)
    try:
        assert_rollups_exact(conn)
    finally:
        conn.close()


def ranges(seed: int) -> list[Filters]:
    rng = random.Random(seed)
    out = []
    for _ in range(6):
        start = END - timedelta(days=4) + timedelta(seconds=rng.randrange(3 * 86400))
        out.append(Filters(since=start, until=start + timedelta(seconds=rng.randrange(3 * 3600, 2 * 86400))))
    return [*out, Filters(since=END - timedelta(days=1), until=END)]  # whole hours: no raw edge


def test_rollup_and_raw_answers_agree(demo_db: Path) -> None:
    with closing(reader(demo_db)) as conn:
        terminals = tuple(r[0] for r in conn.execute("SELECT DISTINCT terminal_type FROM metrics"))
        model = conn.execute("SELECT model FROM events WHERE model IS NOT NULL LIMIT 1").fetchone()[0]
        for f in ranges(1):
            raw = replace(f, terminals=terminals)  # every terminal: the same rows, but the rollups can't answer
            assert split(f)[0] is not None and split(raw)[0] is None
            for query in (tiles, models, tool_usage, edit_decisions, tokens_over_time):
                assert rounded(query(conn, f)) == rounded(query(conn, raw)), query.__name__
            with_model = replace(f, models=(model,))
            assert rounded(tiles(conn, with_model)) == rounded(tiles(conn, replace(with_model, terminals=terminals)))


def rounded(value: object) -> object:
    """Float sums added in another order differ in the last bits; compare at a millionth."""
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def test_split_edges() -> None:
    f = Filters(since=datetime(2026, 1, 1, 10, 15, tzinfo=UTC), until=datetime(2026, 1, 1, 14, 30, tzinfo=UTC))
    hours, raws = split(f)
    assert hours == ("2026-01-01 11:00:00.000", "2026-01-01 14:00:00.000")
    assert [(r.since.hour, r.since.minute, r.until.hour, r.until.minute) for r in raws] == [(10, 15, 11, 0),
                                                                                          (14, 0, 14, 30)]
    assert split(replace(f, users=("u",)))[0] is None  # no user column in the rollups
    assert split(f, bucket=900)[0] is None  # quarter-hour buckets can't come from hours
    assert split(replace(f, until=datetime(2026, 1, 1, 12, 30, tzinfo=UTC)))[0] is None  # too short to bother


def test_totals_rejects_unknown_columns(demo_db: Path) -> None:
    with closing(reader(demo_db)) as conn, pytest.raises(ValueError):
        totals(conn, "metrics", ranges(2)[0], ("x",), ("user_email",))
