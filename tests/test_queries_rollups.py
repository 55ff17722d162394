"""The rollups stay exact: equal to the raw rows after inserts, deletes and updates, and a range answered
from rollup + raw edges equals the same range answered from raw rows, on both backends. The raw side is
grouped here in Python, apart from either backend's SQL."""

from __future__ import annotations

import random
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import stored
from ccmonitor.demo import demo_command
from ccmonitor.queries.filters import Filters
from ccmonitor.queries.models import models
from ccmonitor.queries.rollups import split, totals
from ccmonitor.queries.series import tokens_over_time
from ccmonitor.queries.tiles import tiles
from ccmonitor.queries.tools import edit_decisions, tool_usage
from ccmonitor.store import Reader
from ccmonitor.store.sqlite.writer import open_database
from ccmonitor.telemetry import utc_text
from postgres_cluster import PostgresCluster

END = datetime(2026, 11, 27, 12, tzinfo=UTC)
HISTORY = ("--users", "5", "--days", "4", "--end", END.isoformat(), "--traces", "0")
API_REQUEST, TOOL_RESULT = "claude_code.api_request", "claude_code.tool_result"
SESSION_METRICS = ("claude_code.session.count", "claude_code.active_time.total")
USER_METRICS = ("claude_code.cost.usage", "claude_code.token.usage")  # what rollup_metrics_users sums
Sums = dict[str, dict[tuple[Any, ...], float]]


def make_demo(db: Path | str) -> None:
    result = CliRunner().invoke(demo_command, [*HISTORY, "--db", str(db)])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo history in a SQLite file (also the start of test_store_attribute_sets' migrations)."""
    db = tmp_path_factory.mktemp("rollups") / "demo.db"
    make_demo(db)
    return db


@pytest.fixture(scope="module")
def demo_postgres(postgres_cluster: PostgresCluster) -> Iterator[str]:
    url = postgres_cluster.create_database()
    try:
        make_demo(url)
        yield url
    finally:
        postgres_cluster.drop_database(url)


@pytest.fixture
def demo(backend: str, request: pytest.FixtureRequest) -> Path | str:
    """The demo history on this test's backend, made once per module: read it, don't change it."""
    return request.getfixturevalue("demo_db" if backend == "sqlite" else "demo_postgres")  # type: ignore[no-any-return]


@pytest.fixture
def demo_copy(demo: Path | str, tmp_path: Path, request: pytest.FixtureRequest) -> Path | str:
    """A private copy of the demo history, to change."""
    if isinstance(demo, Path):
        return copy(demo, tmp_path / "copy.db")
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    url = cluster.create_database(template=demo)
    request.addfinalizer(lambda: cluster.drop_database(url))
    return url


def bucket(duration: float) -> int:
    """store/histograms.py's bucket, in Python: below 100 ms the millisecond, else digits * 100 + first two."""
    whole = int(duration)
    return whole if duration < 100 else len(str(whole)) * 100 + int(str(whole)[:2])


def raw_sums(conn: Reader | sqlite3.Connection) -> Sums:
    """Every rollup as the raw rows give it: {rollup table: {key: sum}}."""
    sets = {r[0]: r[1] for r in conn.execute("SELECT session, attribute_set FROM session_attribute_sets")}
    out: Sums = defaultdict(lambda: defaultdict(float))

    def text(*values: object) -> tuple[object, ...]:
        return tuple("" if v is None else v for v in values)

    def set_of(attribute_set: int | None, session: str | None) -> int | None:
        return sets.get(session) if attribute_set is None else attribute_set  # rows from before 0004: the session's

    for ts, session, attribute_set, user, *columns, value in conn.execute(
            "SELECT timestamp, session_id, attribute_set, COALESCE(user_email, account_uuid, user_id), metric_name,"
            " type, model, tool, decision, language, metric_value FROM metrics"):
        key = text(ts[:13], *columns)
        out["rollup_metrics"][key] += value
        aset = set_of(attribute_set, session)
        if aset:
            out["rollup_metrics_sets"][(aset, *key)] += value
        if columns[0] in USER_METRICS:
            out["rollup_metrics_users"][(*text(ts[:13], user, columns[0], columns[2]), aset or 0)] += value
    for ts, session, attribute_set, name, model, tool_name, success, decision, duration in conn.execute(
            "SELECT timestamp, session_id, attribute_set, event_name, model, tool_name, success, decision, duration_ms"
            " FROM events"):
        key = text(ts[:13], name, model, tool_name, success, decision)
        aset = set_of(attribute_set, session)
        out["rollup_events"][key] += 1
        if aset:
            out["rollup_events_sets"][(aset, *key)] += 1
        if name in (API_REQUEST, TOOL_RESULT) and isinstance(duration, int | float):
            day = text(ts[:10], name, model if name == API_REQUEST else tool_name, bucket(duration))
            out["rollup_durations"][day] += 1
            if aset:
                out["rollup_durations_sets"][(aset, *day)] += 1
    return out


ROLLUPS = {  # rollup table -> its key columns and its sum, read as raw_sums() keys them
    "rollup_metrics": "hour, metric_name, type, model, tool, decision, language, value",
    "rollup_metrics_sets": "attribute_set, hour, metric_name, type, model, tool, decision, language, value",
    "rollup_metrics_users": 'hour, "user", metric_name, model, attribute_set, value',
    "rollup_events": "hour, event_name, model, tool_name, success, decision, n",
    "rollup_events_sets": "attribute_set, hour, event_name, model, tool_name, success, decision, n",
    "rollup_durations": "day, event_name, key, bucket, n",
    "rollup_durations_sets": "attribute_set, day, event_name, key, bucket, n",
}


def assert_rollups_exact(conn: Reader | sqlite3.Connection) -> None:
    """Every rollup equals the raw rows grouped in Python; rollup_sessions holds each session's first
    and last mark (prompts, session.count and active_time points)."""
    raw = raw_sums(conn)
    for table, columns in ROLLUPS.items():
        hour = columns.split(", ").index("hour") if "hour" in columns else None
        rollup = {}
        for *key, value in conn.execute(f"SELECT {columns} FROM {table}"):
            if hour is not None:
                key[hour] = key[hour][:13]
            rollup[tuple(key)] = value
        assert rollup.keys() == raw[table].keys(), table
        assert raw[table], table  # the demo has all of them: an empty check proves nothing
        for k, v in raw[table].items():
            assert rollup[k] == pytest.approx(v, rel=1e-9, abs=1e-9), (table, k)
    marks: dict[str, list[str]] = defaultdict(list)
    for session, ts in conn.execute(
            "SELECT session_id, timestamp FROM metrics WHERE metric_name IN (?, ?) AND session_id IS NOT NULL"
            " UNION ALL SELECT session_id, timestamp FROM events WHERE event_name = 'claude_code.user_prompt'"
            " AND session_id IS NOT NULL", SESSION_METRICS):
        marks[session].append(ts)
    assert {tuple(r) for r in conn.execute("SELECT session_id, first_ts, last_ts FROM rollup_sessions")} == {
        (session, min(times), max(times)) for session, times in marks.items()}


def rollups_exact(db: Path | str) -> None:
    with stored.reader(db) as conn:
        assert_rollups_exact(conn)


EMPTIED = ("rollup_metrics", "rollup_events", "rollup_metrics_sets", "rollup_events_sets", "rollup_durations",
           "rollup_durations_sets", "rollup_metrics_users", "rollup_sessions")


def test_rollups_equal_raw_rows_through_inserts_and_deletes(demo_copy: Path | str) -> None:
    db = demo_copy
    rollups_exact(db)
    first = datetime.fromisoformat(stored.scalar(db, "SELECT MIN(timestamp) FROM metrics")).replace(tzinfo=UTC)
    assert stored.execute(db, "DELETE FROM metrics WHERE timestamp < ?", [utc_text(first + timedelta(days=1))])
    assert stored.execute(db, "DELETE FROM events WHERE id % 7 = 0")
    rollups_exact(db)
    stored.execute(db, "DELETE FROM metrics")
    stored.execute(db, "DELETE FROM events")
    for table in EMPTIED:
        assert stored.scalar(db, f"SELECT COUNT(*) FROM {table}") == 0, table


# PostgreSQL's rollups follow inserts (the writer) and DELETEs (statement triggers) but not UPDATEs: it has
# no update triggers yet (store/postgres/migrations), so this one is SQLite's until it has (issue #14).
@pytest.mark.parametrize("backend", ["sqlite"])
def test_rollups_equal_raw_rows_through_updates(demo_copy: Path | str) -> None:
    db = demo_copy
    assert stored.execute(db, "UPDATE metrics SET metric_value = metric_value * 2,"
                              " timestamp = datetime(timestamp, '+3 hours') WHERE id % 5 = 0")
    assert stored.execute(db, "UPDATE metrics SET user_email = 'moved@example.com', model = NULL WHERE id % 3 = 0")
    assert stored.execute(db, "UPDATE metrics SET session_id = 'moved', attribute_set = NULL WHERE id % 7 = 0")
    assert stored.execute(db, "UPDATE events SET model = 'renamed', session_id = 'moved' WHERE id % 11 = 0")
    assert stored.execute(db, "UPDATE events SET duration_ms = duration_ms * 3 + 0.5, tool_name = 'Other'"
                              " WHERE id % 13 = 0")
    rollups_exact(db)


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
    """A database written before 0002 gets its rollups from the rows already there (SQLite's migrations:
    PostgreSQL's history starts with every rollup in place)."""
    db = copy(demo_db, tmp_path / "old.db")
    drop(db, f"name LIKE 'rollup_%' OR name IN ('events_durations', 'metrics_user', 'events_user', {quoted(V4_TABLES)},"
         f" {quoted(V4_INDEXES)})", ("0002_dashboard_rollups", "0003_writer_refreshes_rollups",
                                    "0004_duration_histograms_and_attribute_sets", "0006_user_rollups"))
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


def test_rollup_and_raw_answers_agree(demo: Path | str) -> None:
    with stored.reader(demo) as conn:
        terminals = tuple(r[0] for r in conn.execute("SELECT DISTINCT terminal_type FROM metrics"))
        model = conn.execute("SELECT model FROM events WHERE model IS NOT NULL LIMIT 1").fetchone()[0]
        teams = sorted({r[0] for r in conn.execute(f"SELECT {conn.sql.json_member('attributes')} FROM attribute_sets",
                                                   [conn.sql.json_key("team")])})
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


def test_totals_rejects_unknown_columns(demo: Path | str) -> None:
    with stored.reader(demo) as conn, pytest.raises(ValueError):
        totals(conn, "metrics", ranges(2)[0], ("x",), ("user_email",))
