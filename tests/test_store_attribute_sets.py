"""Attribute sets (store/attribute_sets.py): what a custom resource attribute filter selects, for
rows stored since migration 0004 (their own set, with or without a session) and before (their
session's set, read from its first record)."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

import stored
from ccmonitor.queries.filters import Filters
from ccmonitor.queries.models import models
from ccmonitor.queries.rollups import split
from ccmonitor.queries.tiles import tiles
from ccmonitor.store import is_url
from ccmonitor.store.sqlite.reads import connect_reader
from ccmonitor.store.sqlite.writer import open_database
from otlp_builders import DELTA, T0, event_request, sum_request
from test_queries_rollups import V4_INDEXES, V4_TABLES, assert_rollups_exact, copy, demo_db, drop, quoted, rounded

__all__ = ["demo_db"]  # the fixture, shared with test_queries_rollups


def test_migration_0004_maps_old_sessions_to_the_sets_ingest_would_give(demo_db: Path, tmp_path: Path) -> None:
    """(SQLite only: a SQLite migration; PostgreSQL's schema has had attribute sets from its first.)
    Rows stored before 0004 get their session's attribute set from its first record: the same sets
    (team, department) the receiver derives from the resource for new rows."""
    with closing(sqlite3.connect(demo_db)) as conn:
        sessions = set(conn.execute("SELECT session, attributes FROM session_attribute_sets"
                                    " JOIN attribute_sets ON id = attribute_set"))
    assert sessions and all({"team", "department"} <= json.loads(a).keys() for _, a in sessions)
    with closing(connect_reader(demo_db)) as conn:
        teams = [r[0] for r in conn.execute("SELECT DISTINCT json_extract(attributes, '$.team') FROM attribute_sets")]
        terminals = tuple(r[0] for r in conn.execute("SELECT DISTINCT terminal_type FROM events"))
        answers = {t: [query(conn, f) for f in team_filters(t) for query in (tiles, models)] for t in teams}
    db = copy(demo_db, tmp_path / "pre4.db")
    drop(db, f"name LIKE 'rollup_%_sets%' OR name LIKE 'rollup_durations%' OR name LIKE 'rollup_metrics_users%'"
         f" OR name IN ({quoted(V4_TABLES)}, {quoted(V4_INDEXES)})",  # 0006 keys its rollup on the sets too
         ("0004_duration_histograms_and_attribute_sets", "0006_user_rollups"))
    conn = open_database(db)
    try:
        assert set(conn.execute("SELECT session, attributes FROM session_attribute_sets"
                                " JOIN attribute_sets ON id = attribute_set")) == sessions
        assert_rollups_exact(conn)
        assert conn.execute("SELECT COUNT(*) FROM events WHERE attribute_set IS NOT NULL").fetchone()[0] == 0
        for team, expected in answers.items():  # rows without a set of their own: the session's decides
            filters = team_filters(team)
            assert rounded([query(conn, f) for f in filters for query in (tiles, models)]) == rounded(expected)
            raw = [replace(f, terminals=terminals) for f in filters]  # the same rows, no rollups
            assert rounded([query(conn, f) for f in raw for query in (tiles, models)]) == rounded(expected)
    finally:
        conn.close()


def team_filters(team: str) -> list[Filters]:
    end = datetime(2026, 11, 27, 12, tzinfo=UTC)
    return [Filters(since=end - timedelta(days=3, minutes=20), until=end - timedelta(minutes=50),
                    attributes=(("team", team),)),
            Filters(since=end - timedelta(hours=5), until=end, attributes=(("team", team),))]


def test_attribute_filter_counts_records_sent_without_a_session_id(server) -> None:
    """OTEL_METRICS_INCLUDE_SESSION_ID=false: no session.id on any record, the team still filters them,
    from the rollups and from the raw rows alike."""
    hour = 3600 * 10**9
    start = (T0 // hour + 1) * hour
    team = {"service.name": "claude-code", "os.type": "linux", "team": "solo", "cost_center": 7}
    attrs = {"type": "input", "model": "m", "terminal.type": "tty"}
    metrics = sum_request([(start, start + i * hour // 2, 100.0) for i in range(1, 9)], temporality=DELTA,
                          attrs=attrs, resource=team)
    other = sum_request([(start, start + hour, 1.0)], temporality=DELTA, attrs=attrs, resource={"team": "x"})
    events = event_request([{"event.name": "api_request", "model": "m", "duration_ms": 100 + i,
                             "terminal.type": "tty", "_time": start + i * hour}
                            for i in range(5)], resource=team)
    for signal, body in (("metrics", metrics), ("metrics", other), ("logs", events)):
        r = httpx.post(server.url(f"/v1/{signal}"), content=body.SerializeToString(),
                       headers={"content-type": "application/x-protobuf"})
        assert r.status_code == 200, r.text
    f = Filters(since=datetime.fromtimestamp(start / 1e9, UTC) - timedelta(minutes=30),
                until=datetime.fromtimestamp(start / 1e9, UTC) + timedelta(hours=5, minutes=30),
                attributes=(("team", "solo"),))
    with stored.reader(server.db_path) as conn:
        sets = [r[0] for r in conn.execute("SELECT attributes FROM attribute_sets WHERE id IN"
                                           " (SELECT attribute_set FROM metrics)").fetchall()]
        assert sorted((json.loads(a) for a in sets), key=lambda a: a["team"]) == [
            {"cost_center": 7, "team": "solo"}, {"team": "x"}]
        if not is_url(server.db_path):  # SQLite keeps the text the set's id was made from; jsonb its own form
            assert all(a == json.dumps(json.loads(a), sort_keys=True, separators=(",", ":")) for a in sets)
        assert split(f)[0] is not None
        got = tiles(conn, f)
        assert (got["input_tokens"], got["api_requests"]) == (800, 5)
        assert rounded(got) == rounded(tiles(conn, replace(f, terminals=("tty",))))
        assert models(conn, f)[0]["p50_ms"] == 102
        assert tiles(conn, replace(f, attributes=(("team", "x"),)))["input_tokens"] == 1
