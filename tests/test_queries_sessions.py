"""queries/sessions, story, spans and facets against the replayed captures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

import stored
from ccmonitor.queries.facets import facets
from ccmonitor.queries.filters import Filters
from ccmonitor.queries.sessions import list_sessions
from ccmonitor.queries.story import session_story
from ccmonitor.store import Reader

HOUR = Filters(since=datetime(2026, 11, 27, 16, tzinfo=UTC), until=datetime(2026, 11, 27, 17, tzinfo=UTC))
PROMPT = "create hello.txt then run echo hi"


@pytest.fixture
def conn(captures_db: Path | str) -> Iterator[Reader]:
    with stored.reader(captures_db) as c:
        yield c


def session_with(conn: Reader, sql: str) -> str:
    return conn.execute(sql).fetchone()[0]


def test_list_newest_first_with_per_session_totals(conn: Reader) -> None:
    page = list_sessions(conn, HOUR)
    sessions = page["sessions"]
    assert len(sessions) == 13 and page["has_more"] is False
    assert [s["start"] for s in sessions] == sorted((s["start"] for s in sessions), reverse=True)
    full = [s for s in sessions if s["api_requests"] == 4]
    assert len(full) == 12
    assert all(s["tokens"] == 5100 + 280 + 21000 + 900 and s["prompts"] == 1 and s["lines_added"] == 3 for s in full)
    assert sorted(s["cost_usd"] for s in full) == pytest.approx([0.0347] * 11 + [0.048625])
    failed = [s for s in sessions if s["api_errors"]]
    assert len(failed) == 1 and failed[0]["cost_usd"] == 0


def test_paging(conn: Reader) -> None:
    first = list_sessions(conn, HOUR, limit=5)
    rest = list_sessions(conn, HOUR, limit=10, offset=5)
    assert first["has_more"] and not rest["has_more"]
    ids = [s["session_id"] for s in first["sessions"] + rest["sessions"]]
    assert len(ids) == len(set(ids)) == 13


def test_model_and_user_filters(conn: Reader) -> None:
    old = list_sessions(conn, replace(HOUR, models=("claude-opus-4-8[1m]",)))["sessions"]
    assert len(old) == 1 and old[0]["cost_usd"] == pytest.approx(0.048625)
    user = old[0]["user"]
    mine = list_sessions(conn, replace(HOUR, users=(user,)))["sessions"]
    assert [s["session_id"] for s in mine] == [old[0]["session_id"]]


def test_story_of_the_traced_session(conn: Reader) -> None:
    sid = session_with(conn, "SELECT session_id FROM spans LIMIT 1")
    story = session_story(conn, sid)
    preamble, prompt = story["prompts"]
    assert preamble["prompt_id"] is None and preamble["steps"][0]["event"] == "claude_code.managed_settings_resolved"
    assert prompt["prompt"] == PROMPT and prompt["api_requests"] == 4
    assert prompt["cost_usd"] == pytest.approx(0.0347) and prompt["input_tokens"] == 5100
    tools = [(s["tool_name"], s["decision"], s["success"]) for s in prompt["steps"] if s["event"] == "tool"]
    assert tools == [("Write", "accept", "true"), ("Bash", "accept", "true"), ("Bash", "reject", None)]
    assert "echo hi" in [s for s in prompt["steps"] if s["event"] == "tool"][1]["tool_parameters"]
    spans = prompt["spans"]
    assert len(spans) == 13 and spans[0]["name"] == "claude_code.interaction" and spans[0]["depth"] == 0
    assert {s["depth"] for s in spans} == {0, 1, 2}
    assert "user_prompt" not in json.dumps(spans)  # prompt text lives in the prompt, nowhere else
    assert story["session"]["session_id"] == sid and story["session"]["api_requests"] == 4


def test_story_of_a_failed_session(conn: Reader) -> None:
    sid = session_with(conn, "SELECT session_id FROM events WHERE event_name = 'claude_code.api_error'")
    prompt = session_story(conn, sid)["prompts"][-1]
    errors = [s for s in prompt["steps"] if s["event"].startswith("claude_code.api_")]
    assert [(s["event"], s["status_code"]) for s in errors] == [
        ("claude_code.api_error", 500), ("claude_code.api_retries_exhausted", 500)]
    assert prompt["errors"] == 2 and prompt["api_requests"] == 0


def test_unknown_session(conn: Reader) -> None:
    assert session_story(conn, "no-such-session") is None


def test_facets(conn: Reader) -> None:
    got = facets(conn, replace(HOUR, users=("someone",), models=("x",)))  # choices ignore the current picks
    assert len(got["users"]) == 13 and all(len(u["id"]) == 64 for u in got["users"])  # hashed user.id only
    assert got["models"] == ["claude-opus-4-8", "claude-opus-4-8[1m]", "claude-opus-5-5"]
    assert got["terminals"] == ["dumb"]
    assert got["attributes"] == {"department": ["eng"], "team": ["platform"]}
