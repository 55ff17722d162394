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
from ccmonitor.queries.filters import Filters
from ccmonitor.queries.models import models
from ccmonitor.queries.rollups import split, totals
from ccmonitor.queries.series import tokens_over_time
from ccmonitor.queries.tiles import tiles
from ccmonitor.queries.tools import edit_decisions, tool_usage
from ccmonitor.store.histograms import bucket_sql
from ccmonitor.store.sqlite.reads import connect_reader
from ccmonitor.store.sqlite.writer import open_database

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
    assert_v4_rollups_exact(conn)
    marks = ("SELECT session_id, MIN(timestamp), MAX(timestamp) FROM (SELECT session_id, timestamp FROM metrics"
             " WHERE metric_name IN ('claude_code.session.count', 'claude_code.active_time.total') UNION ALL"
             " SELECT session_id, timestamp FROM events WHERE event_name = 'claude_code.user_prompt')"
             " WHERE session_id IS NOT NULL GROUP BY session_id")
    assert set(conn.execute(marks)) == set(conn.execute("SELECT session_id, first_ts, last_ts FROM rollup_sessions"))


SET_OF = ("COALESCE(t.attribute_set,"
          " (SELECT attribute_set FROM session_attribute_sets s WHERE s.session = t.session_id))")
DURATION_KEY = (f"substr(timestamp, 1, 10), event_name, COALESCE(CASE event_name WHEN 'claude_code.api_request'"
                f" THEN model ELSE tool_name END, ''), {bucket_sql('duration_ms')}")
DURATION_ROWS = ("event_name IN ('claude_code.api_request', 'claude_code.tool_result')"
                 " AND typeof(duration_ms) IN ('integer', 'real')")


def assert_v4_rollups_exact(conn: sqlite3.Connection) -> None:
    """Migration 0004's rollups: duration histograms, and the sums split by attribute set."""
    checks = [
        ("rollup_durations", f"SELECT {DURATION_KEY}, COUNT(*) FROM events t WHERE {DURATION_ROWS} GROUP BY 1, 2, 3, 4",
         "day, event_name, key, bucket, n"),
        ("rollup_durations_sets", f"SELECT {SET_OF}, {DURATION_KEY}, COUNT(*) FROM events t WHERE {DURATION_ROWS}"
         f" AND {SET_OF} != 0 GROUP BY 1, 2, 3, 4, 5", "attribute_set, day, event_name, key, bucket, n"),
        ("rollup_metrics_sets", f"SELECT {SET_OF}, {METRIC_KEY}, SUM(metric_value) FROM metrics t"
         f" WHERE {SET_OF} != 0 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8",
         "attribute_set, substr(hour, 1, 13), metric_name, type, model, tool, decision, language, value"),
        ("rollup_events_sets", f"SELECT {SET_OF}, {EVENT_KEY}, COUNT(*) FROM events t WHERE {SET_OF} != 0"
         " GROUP BY 1, 2, 3, 4, 5, 6, 7", "attribute_set, substr(hour, 1, 13), event_name, model, tool_name, success,"
         " decision, n"),
    ]
    for table, raw_sql, columns in checks:
        raw = {tuple("" if v is None else v for v in row[:-1]): row[-1] for row in conn.execute(raw_sql)}
        rollup = {tuple(row[:-1]): row[-1] for row in conn.execute(f"SELECT {columns} FROM {table}")}
        assert rollup.keys() == raw.keys(), table
        assert raw, table  # the demo has durations and team attributes: an empty check proves nothing
        for k, v in raw.items():
            assert rollup[k] == pytest.approx(v, rel=1e-9, abs=1e-9), (table, k)


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
        conn.execute("UPDATE events SET duration_ms = duration_ms * 3 + 0.5, tool_name = 'Other' WHERE id % 13 = 0")
        assert_rollups_exact(conn)
        conn.execute("DELETE FROM metrics")
        conn.execute("DELETE FROM events")
        for table in ("rollup_metrics", "rollup_events_sets", "rollup_metrics_sets", "rollup_durations",
                      "rollup_durations_sets"):
            assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0, table
        assert conn.execute("SELECT COUNT(*) FROM rollup_sessions").fetchone()[0] == 0
    finally:
        conn.close()


V4_TABLES = ("attribute_sets", "session_attribute_sets")
V4_INDEXES = ("events_model_durations", "events_tool_name_durations", "rollup_sessions_span")


def drop(db: Path, objects: str, migrations: tuple[str, ...]) -> None:
    with closing(sqlite3.connect(db)) as conn:
        made = conn.execute(f"SELECT type, name FROM sqlite_master WHERE type IN ('table', 'trigger', 'index')"
                            f" AND ({objects}) ORDER BY type = 'table'").fetchall()
        for kind, name in made:
            conn.execute(f"DROP {kind.upper()} IF EXISTS {name}")
        if "0004_duration_histograms_and_attribute_sets" in migrations:  # rows as stored before 0004
            for table in ("metrics", "events"):
                conn.execute(f"ALTER TABLE {table} DROP COLUMN attribute_set")
        conn.execute(f"DELETE FROM schema_migrations WHERE name IN ({', '.join('?' * len(migrations))})", migrations)
        conn.commit()


def copy(demo_db: Path, db: Path) -> Path:
    with closing(sqlite3.connect(demo_db)) as src, closing(sqlite3.connect(db)) as dst:
        src.backup(dst)
    return db


def test_migration_builds_rollups_for_existing_rows(demo_db: Path, tmp_path: Path) -> None:
    """A database written before 0002 gets its rollups from the rows already there."""
    db = copy(demo_db, tmp_path / "old.db")
    drop(db, f"name LIKE 'rollup_%' OR name IN ('events_durations', 'metrics_user', 'events_user', {quoted(V4_TABLES)},"
         f" {quoted(V4_INDEXES)})", ("0002_dashboard_rollups", "0003_writer_refreshes_rollups",
                                    "0004_duration_histograms_and_attribute_sets"))
    conn = open_database(db)
    try:
        assert_rollups_exact(conn)
        assert not conn.execute("SELECT name FROM sqlite_master WHERE name = 'rollup_events_insert'").fetchall()
    finally:
        conn.close()


def quoted(names: tuple[str, ...]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def ranges(seed: int) -> list[Filters]:
    rng = random.Random(seed)
    out = []
    for _ in range(6):
        start = END - timedelta(days=4) + timedelta(seconds=rng.randrange(3 * 86400))
        out.append(Filters(since=start, until=start + timedelta(seconds=rng.randrange(3 * 3600, 2 * 86400))))
    days = [Filters(since=END - timedelta(days=4, hours=-5, minutes=17), until=END - timedelta(minutes=7)),
            Filters(since=END - timedelta(days=3, hours=12), until=END)]  # whole days from the histograms
    return [*out, *days, Filters(since=END - timedelta(days=1), until=END)]  # whole hours: no raw edge


def test_rollup_and_raw_answers_agree(demo_db: Path) -> None:
    with closing(connect_reader(demo_db)) as conn:
        terminals = tuple(r[0] for r in conn.execute("SELECT DISTINCT terminal_type FROM metrics"))
        model = conn.execute("SELECT model FROM events WHERE model IS NOT NULL LIMIT 1").fetchone()[0]
        teams = sorted({r[0] for r in conn.execute("SELECT json_extract(attributes, '$.team') FROM attribute_sets")})
        assert len(teams) > 1
        mixed = 0
        for f in ranges(1):
            raw = replace(f, terminals=terminals)  # every terminal: the same rows, but the rollups can't answer
            assert split(f)[0] is not None and split(raw)[0] is None
            for query in (tiles, models, tool_usage, edit_decisions, tokens_over_time):
                assert rounded(query(conn, f)) == rounded(query(conn, raw)), query.__name__
            with_model = replace(f, models=(model,))
            assert rounded(tiles(conn, with_model)) == rounded(tiles(conn, replace(with_model, terminals=terminals)))
            assert rounded(models(conn, with_model)) == rounded(models(conn, replace(with_model, terminals=terminals)))
            team = replace(f, attributes=(("team", teams[0]), ("team", teams[-1])))
            assert split(team)[0] is not None
            for query in (tiles, models, tool_usage, edit_decisions, tokens_over_time):
                got = query(conn, team)
                assert got and rounded(got) == rounded(query(conn, replace(team, terminals=terminals))), query.__name__
            # every demo session has a team: the teams' parts add up to the whole
            parts = [tiles(conn, replace(f, attributes=(("team", t),)))["input_tokens"] for t in teams]
            assert sum(parts) == tiles(conn, f)["input_tokens"]
            mixed += sum(1 for part in parts if part) > 1
        assert mixed  # some ranges hold several teams, so the filter did narrow


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
    with closing(connect_reader(demo_db)) as conn, pytest.raises(ValueError):
        totals(conn, "metrics", ranges(2)[0], ("x",), ("user_email",))
