"""`ccmonitor demo`: a seeded synthetic history through the real ingest path, in-process or over
OTLP/HTTP to a running server; both paths store the same rows, and the numbers hang together."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import stored
from ccmonitor.demo import demo_command
from ccmonitor.queries.filters import Filters
from ccmonitor.queries.tiles import tiles
from ccmonitor.store import Reader
from postgres_cluster import PostgresCluster

END = "2026-11-27T12:00:00Z"
ALL = Filters(since=datetime(2020, 1, 1, tzinfo=UTC), until=datetime(2030, 1, 1, tzinfo=UTC))
KNOWN_EVENTS = {"user_prompt", "api_request", "api_error", "tool_decision", "tool_result", "assistant_response"}
HISTORY = ("--users", "4", "--days", "7", "--traces", "0.5")


def run_demo(*args: str) -> str:
    result = CliRunner().invoke(demo_command, ["--end", END, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def demo_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    run_demo(*HISTORY, "--db", str(db))
    return db


@pytest.fixture(scope="module")
def demo_postgres(postgres_cluster: PostgresCluster) -> Iterator[str]:
    url = postgres_cluster.create_database()
    try:
        run_demo(*HISTORY, "--db", url)
        yield url
    finally:
        postgres_cluster.drop_database(url)


@pytest.fixture
def demo_db(backend: str, request: pytest.FixtureRequest) -> Path | str:
    """The demo history written in-process into a database of this test's backend (made once per module)."""
    return request.getfixturevalue(f"demo_{backend}")  # type: ignore[no-any-return]


@pytest.fixture
def conn(demo_db: Path | str) -> Iterator[Reader]:
    with stored.reader(demo_db) as c:
        yield c


def test_realistic_mix(conn: Reader) -> None:
    names = {r[0] for r in conn.execute("SELECT DISTINCT event_name FROM events")}
    assert {n.removeprefix("claude_code.") for n in names} <= KNOWN_EVENTS
    assert {"claude_code.user_prompt", "claude_code.api_request", "claude_code.tool_result"} <= names
    models = {r[0] for r in conn.execute("SELECT DISTINCT model FROM events WHERE model IS NOT NULL")}
    assert len(models) >= 2
    tools = {r[0] for r in conn.execute("SELECT DISTINCT tool_name FROM events WHERE tool_name IS NOT NULL")}
    assert {"Read", "Edit", "Bash"} <= tools
    users = conn.execute("SELECT COUNT(DISTINCT user_email) FROM events").fetchone()[0]
    assert users == 4
    teams = {r[0] for r in conn.execute(f"SELECT DISTINCT {conn.sql.json_member('custom_attributes')} FROM metrics",
                                        [conn.sql.json_key("team")])}
    assert None not in teams and teams
    assert conn.execute("SELECT COUNT(*) FROM spans").fetchone()[0] > 0
    assert conn.execute("SELECT MAX(timestamp) FROM events").fetchone()[0] < "2026-11-27 12:10"


def test_metrics_agree_with_events(conn: Reader) -> None:
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


def test_spans_join_their_prompts(demo_db: Path | str) -> None:
    joined = stored.scalar(demo_db, "SELECT COUNT(*) FROM spans s WHERE EXISTS (SELECT 1 FROM events e"
                                    " WHERE e.trace_id = s.trace_id AND e.prompt_id IS NOT NULL)")
    assert joined == stored.scalar(demo_db, "SELECT COUNT(*) FROM spans")


def digest(db: Path | str) -> tuple[object, ...]:
    """What two histories must share: metric rows, their sum and sessions; event rows, cost and prompt text."""
    def read(conn: Reader) -> tuple[object, ...]:
        metrics, value = conn.execute("SELECT COUNT(*), SUM(metric_value) FROM metrics").fetchone()
        sessions = sorted(r[0] for r in conn.execute("SELECT DISTINCT session_id FROM metrics"
                                                     " WHERE session_id IS NOT NULL"))
        events, cost, prompts = conn.execute("SELECT COUNT(*), SUM(cost_usd), SUM(length(prompt)) FROM events"
                                             ).fetchone()
        return metrics, round(value, 6), sessions, events, round(cost, 6), prompts

    return stored.read(db, read)


def test_seeded_and_same_rows_over_http(demo_db: Path | str, server: Any, tmp_path: Path) -> None:
    """The same seed gives the same rows: again in-process (into a SQLite file, the reference for both
    backends), and over OTLP/HTTP into a server on this test's backend."""
    again = tmp_path / "again.db"
    run_demo(*HISTORY, "--db", str(again))
    run_demo(*HISTORY, "--url", f"http://127.0.0.1:{server.http_port}")
    server.stop()
    for other in (again, server.db_path):
        assert digest(other) == digest(demo_db)


def test_events_target(db_target: Path | str) -> None:
    output = run_demo("--users", "5", "--days", "10", "--events", "4000", "--traces", "0", "--db", str(db_target))
    n = stored.scalar(db_target, "SELECT COUNT(*) FROM events")
    assert 2000 < n < 8000 and f"{n:,} events" in output


def test_too_few_events_for_the_history_is_an_error_not_a_bigger_history(db_target: Path | str) -> None:
    result = CliRunner().invoke(demo_command, ["--users", "200", "--days", "365", "--events", "1000",
                                               "--db", str(db_target)])
    assert result.exit_code == 2 and "too few for 200 users over 365 days" in result.output
    assert not stored.created(db_target)
