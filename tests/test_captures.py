"""Every real Claude Code capture, replayed over its own transport, gives the README's totals;
replaying it again changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import stored
from capture import ALL, STANDARD, replay_scenario, requests
from ccmonitor.store import Reader

STANDARD_TOTALS = {"input": 5100, "output": 280, "cacheRead": 21000, "cacheCreation": 900}
EVENTS_STANDARD = {
    "claude_code.user_prompt": 1, "claude_code.api_request": 4, "claude_code.tool_decision": 3,
    "claude_code.tool_result": 2, "claude_code.assistant_response": 2,
    "claude_code.managed_settings_resolved": 1, "claude_code.plugin_loaded": 3,
}


def snapshot(db: Path | str) -> dict[str, object]:
    """The totals of one database (a SQLite file or a postgresql:// URL), read in one snapshot."""
    def read(conn: Reader) -> dict[str, object]:
        def one(sql: str, *params: object) -> Any:
            return conn.execute(sql, params).fetchone()[0]

        tokens = {r[0]: r[1] for r in conn.execute(
            "SELECT type, SUM(metric_value) FROM metrics WHERE metric_name='claude_code.token.usage' GROUP BY type")}
        scalar = {name: one("SELECT SUM(metric_value) FROM metrics WHERE metric_name=?", name)
                  for name in ("claude_code.cost.usage", "claude_code.session.count",
                               "claude_code.code_edit_tool.decision", "claude_code.commit.count")}
        lines = {r[0]: r[1] for r in conn.execute(
            "SELECT type, SUM(metric_value) FROM metrics WHERE metric_name='claude_code.lines_of_code.count'"
            " GROUP BY type")}
        events = {r[0]: r[1] for r in conn.execute("SELECT event_name, COUNT(*) FROM events GROUP BY event_name")}
        rows = {t: one(f"SELECT COUNT(*) FROM {t}") for t in ("metrics", "events", "spans")}
        *api_tokens, cost = conn.execute(
            "SELECT SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens), SUM(cache_creation_tokens),"
            " SUM(cost_usd) FROM events WHERE event_name='claude_code.api_request'").fetchone()
        api = (*api_tokens, None if cost is None else round(cost, 6))
        sessions = one("SELECT COUNT(DISTINCT session_id) FROM events")
        return {"tokens": tokens, "lines": lines, "events": events, "rows": rows, "api": api,
                "sessions": sessions, **scalar}

    return stored.read(db, read)


@pytest.mark.parametrize("scenario", STANDARD)
def test_standard_capture_totals(scenario: str, server) -> None:
    replay_scenario(scenario, server.ports)
    s = snapshot(server.db_path)
    assert s["tokens"] == STANDARD_TOTALS
    assert s["claude_code.cost.usage"] == pytest.approx(0.0347, abs=1e-12)
    assert s["lines"] == {"added": 3, "removed": 0}
    assert s["claude_code.session.count"] == 1
    assert s["claude_code.code_edit_tool.decision"] == 1
    assert s["claude_code.commit.count"] is None
    expected = dict(EVENTS_STANDARD)
    if scenario.startswith("slow-") or scenario == "sink-503-retry-http":
        expected["claude_code.retention_sweep"] = 1
    assert s["events"] == expected
    assert s["api"] == (5100, 280, 21000, 900, 0.0347)
    assert s["sessions"] == 1
    assert s["rows"]["spans"] == (13 if scenario == "traces-grpc" else 0)


@pytest.mark.parametrize("scenario", ALL)
def test_replaying_twice_changes_nothing(scenario: str, server) -> None:
    first = replay_scenario(scenario, server.ports)
    before = snapshot(server.db_path)
    second = replay_scenario(scenario, server.ports)
    assert first == second and set(first) <= {0, 200}
    assert snapshot(server.db_path) == before


def test_sink_503_resends_are_byte_identical_and_count_once(server) -> None:
    reqs = requests("sink-503-retry-http")
    rejected = [r for r in reqs if r.rejected_by_sink]
    assert len(rejected) == 2
    for r in rejected:  # the client's resend is in the capture, byte for byte
        assert any(o.wire == r.wire and o.seq != r.seq for o in reqs)
    replay_scenario("sink-503-retry-http", server.ports)
    assert sum(snapshot(server.db_path)["events"].values()) == 17


def test_old_client_chunked_capture(server) -> None:
    reqs = requests("old-client-2.1.197-http-protobuf")
    assert all("content-length" not in r.headers for r in reqs)
    replay_scenario("old-client-2.1.197-http-protobuf", server.ports)
    s = snapshot(server.db_path)
    assert s["tokens"] == STANDARD_TOTALS
    assert s["claude_code.cost.usage"] == pytest.approx(0.048625, abs=1e-12)
    assert s["events"]["claude_code.tool_decision"] == 2
    assert sum(s["events"].values()) == 11


def test_api_error_capture(server) -> None:
    replay_scenario("api-error-500", server.ports)
    s = snapshot(server.db_path)
    assert s["tokens"] == {} and s["claude_code.cost.usage"] is None
    assert s["claude_code.session.count"] == 1
    assert s["events"]["claude_code.api_error"] == 1
    assert s["events"]["claude_code.api_retries_exhausted"] == 1
    assert sum(s["events"].values()) == 7
    db = server.db_path
    assert stored.rows(db, "SELECT status_code, attempt, error FROM events WHERE event_name='claude_code.api_error'") \
        == [(500, 3, "Mock api_error (HTTP 500)")]
    total = stored.scalar(db, f"SELECT {stored.dialect(db).json_member('custom_attributes')} FROM events"
                              " WHERE event_name='claude_code.api_retries_exhausted'",
                          [stored.dialect(db).json_key("total_attempts")])
    assert str(total) == "3"  # SQLite gives the JSON number, PostgreSQL its text


def test_every_capture_over_the_app_port(server) -> None:
    """The app port's /v1/* paths (for a Collector's otlphttp exporter) store the same."""
    from capture import replay
    for c in requests("http-protobuf-gzip"):
        assert replay(c, server.ports, app_port=True) == 200
    assert snapshot(server.db_path)["tokens"] == STANDARD_TOTALS
