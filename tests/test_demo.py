"""`ccmonitor demo`: a seeded synthetic history through the real ingest path, in-process or over
OTLP/HTTP to a running server; both paths store the same rows, and the numbers hang together."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ccmonitor.demo import demo_command
from ccmonitor.queries.filters import Filters
from ccmonitor.queries.tiles import tiles
from ccmonitor.store.sqlite.reads import connect_reader

END = "2026-11-27T12:00:00Z"
ALL = Filters(since=datetime(2020, 1, 1, tzinfo=UTC), until=datetime(2030, 1, 1, tzinfo=UTC))
KNOWN_EVENTS = {"user_prompt", "api_request", "api_error", "tool_decision", "tool_result", "assistant_response"}


def run_demo(*args: str) -> str:
    result = CliRunner().invoke(demo_command, ["--end", END, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    run_demo("--users", "4", "--days", "7", "--traces", "0.5", "--db", str(db))
    return db


def scalar(db: Path, sql: str) -> Any:
    with closing(connect_reader(db)) as conn:
        return conn.execute(sql).fetchone()[0]


def test_realistic_mix(demo_db: Path) -> None:
    with closing(connect_reader(demo_db)) as conn:
        names = {r[0] for r in conn.execute("SELECT DISTINCT event_name FROM events")}
        assert {n.removeprefix("claude_code.") for n in names} <= KNOWN_EVENTS
        assert {"claude_code.user_prompt", "claude_code.api_request", "claude_code.tool_result"} <= names
        models = {r[0] for r in conn.execute("SELECT DISTINCT model FROM events WHERE model IS NOT NULL")}
        assert len(models) >= 2
        tools = {r[0] for r in conn.execute("SELECT DISTINCT tool_name FROM events WHERE tool_name IS NOT NULL")}
        assert {"Read", "Edit", "Bash"} <= tools
        users = conn.execute("SELECT COUNT(DISTINCT user_email) FROM events").fetchone()[0]
        assert users == 4
        teams = {r[0] for r in conn.execute("SELECT DISTINCT json_extract(custom_attributes, '$.team') FROM metrics")}
        assert None not in teams and teams
        assert conn.execute("SELECT COUNT(*) FROM spans").fetchone()[0] > 0
        assert conn.execute("SELECT MAX(timestamp) FROM events").fetchone()[0] < "2026-11-27 12:10"


def test_metrics_agree_with_events(demo_db: Path) -> None:
    with closing(connect_reader(demo_db)) as conn:
        t = tiles(conn, ALL)
        requests = conn.execute(
            "SELECT SUM(input_tokens), SUM(cache_read_tokens), SUM(cost_usd), COUNT(DISTINCT session_id)"
            " FROM events WHERE event_name = 'claude_code.api_request'").fetchone()
        assert (t["input_tokens"], t["cache_read_tokens"]) == (requests[0], requests[1])
        assert t["cost_usd"] == pytest.approx(requests[2], rel=1e-4)
        assert t["sessions"] == conn.execute("SELECT COUNT(DISTINCT session_id) FROM metrics").fetchone()[0]
        assert t["sessions"] >= requests[3] > 0
        assert t["api_requests"] == conn.execute(
            "SELECT COUNT(*) FROM events WHERE event_name = 'claude_code.api_request'").fetchone()[0]


def test_spans_join_their_prompts(demo_db: Path) -> None:
    joined = scalar(demo_db, "SELECT COUNT(*) FROM spans s WHERE EXISTS (SELECT 1 FROM events e"
                             " WHERE e.trace_id = s.trace_id AND e.prompt_id IS NOT NULL)")
    assert joined == scalar(demo_db, "SELECT COUNT(*) FROM spans")


def test_seeded_and_same_rows_over_http(demo_db: Path, server: Any, tmp_path: Path) -> None:
    again = tmp_path / "again.db"
    run_demo("--users", "4", "--days", "7", "--traces", "0.5", "--db", str(again))
    run_demo("--users", "4", "--days", "7", "--traces", "0.5", "--url", f"http://127.0.0.1:{server.http_port}")
    digest = ("SELECT COUNT(*), ROUND(SUM(metric_value), 6), group_concat(DISTINCT session_id) FROM"
              " (SELECT * FROM metrics ORDER BY timestamp, session_id, metric_name, type, model)")
    events = "SELECT COUNT(*), ROUND(SUM(cost_usd), 6), SUM(length(prompt)) FROM events"
    server.stop()
    for other in (again, server.db_path):
        with closing(sqlite3.connect(other)) as b, closing(sqlite3.connect(demo_db)) as a:
            assert a.execute(digest).fetchone() == b.execute(digest).fetchone()
            assert a.execute(events).fetchone() == b.execute(events).fetchone()


def test_events_target(tmp_path: Path) -> None:
    db = tmp_path / "aim.db"
    output = run_demo("--users", "5", "--days", "10", "--events", "4000", "--traces", "0", "--db", str(db))
    n = scalar(db, "SELECT COUNT(*) FROM events")
    assert 2000 < n < 8000 and f"{n:,} events" in output


def test_too_few_events_for_the_history_is_an_error_not_a_bigger_history(tmp_path: Path) -> None:
    db = tmp_path / "few.db"
    result = CliRunner().invoke(demo_command, ["--users", "200", "--days", "365", "--events", "1000", "--db", str(db)])
    assert result.exit_code == 2 and "too few for 200 users over 365 days" in result.output
    assert not db.exists()
