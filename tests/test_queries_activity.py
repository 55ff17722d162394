"""queries/activity, tools, models and percentiles against the replayed captures."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import stored
from ccmonitor.queries.activity import PREVIEW_CHARS, api_errors, prompt_text, recent_prompts, recent_requests
from ccmonitor.queries.filters import Filters
from ccmonitor.queries.models import models
from ccmonitor.queries.rollups import nearest_rank
from ccmonitor.queries.tools import edit_decisions, tool_usage
from ccmonitor.store import Reader

HOUR = Filters(since=datetime(2026, 11, 27, 16, tzinfo=UTC), until=datetime(2026, 11, 27, 17, tzinfo=UTC))
PROMPT = "create hello.txt then run echo hi"


@pytest.fixture
def conn(captures_db: Path | str) -> Iterator[Reader]:
    with stored.reader(captures_db) as c:
        yield c


def test_recent_prompts_newest_first_with_redacted_ones_listed(conn: Reader) -> None:
    prompts = recent_prompts(conn, HOUR)
    assert len(prompts) == 13
    assert [p["timestamp"] for p in prompts] == sorted((p["timestamp"] for p in prompts), reverse=True)
    texts = [p["preview"] for p in prompts]
    assert texts.count(PROMPT) == 12
    hidden = [p for p in prompts if p["preview"] is None]  # redacted-defaults: logging of prompts off
    assert len(hidden) == 1 and hidden[0]["prompt_length"] == 33 and not hidden[0]["truncated"]
    assert prompt_text(conn, prompts[0]["prompt_id"])["prompt"] == PROMPT
    assert prompt_text(conn, "no-such-prompt") is None


def test_long_prompts_are_previewed(captures_db: Path | str) -> None:
    stored.execute(captures_db, "UPDATE events SET prompt = ? WHERE event_name = 'claude_code.user_prompt'",
                   ["x" * 1000])
    p = stored.read(captures_db, lambda conn: recent_prompts(conn, HOUR, limit=1))[0]
    assert p["preview"] == "x" * PREVIEW_CHARS and p["truncated"] is True


def test_recent_requests_and_errors(conn: Reader) -> None:
    requests = recent_requests(conn, HOUR, limit=500)
    assert len(requests) == 48
    assert {r["model"] for r in requests} == {"claude-opus-5-5", "claude-opus-4-8"}
    assert sum(r["cost_usd"] for r in requests) == pytest.approx(11 * 0.0347 + 0.048625)
    assert len(recent_requests(conn, HOUR, limit=5)) == 5
    [error] = api_errors(conn, HOUR)
    assert (error["status_code"], error["attempt"], error["error"]) == (500, 3, "Mock api_error (HTTP 500)")


def test_tool_usage(conn: Reader) -> None:
    tools = {t["tool"]: t for t in tool_usage(conn, HOUR)}
    assert set(tools) == {"Bash", "Write"}
    bash = tools["Bash"]
    assert (bash["uses"], bash["succeeded"], bash["success_rate"]) == (12, 12, 1.0)
    assert bash["accepted"] == 12 and bash["rejected"] == 11  # 2.1.197 sends no decision for the rejection
    durations = sorted(r[0] for r in conn.execute(
        "SELECT duration_ms FROM events WHERE event_name = 'claude_code.tool_result' AND tool_name = 'Bash'"))
    assert bash["median_duration_ms"] == durations[(len(durations) * 50 + 99) // 100 - 1]


def test_edit_decisions(conn: Reader) -> None:
    assert edit_decisions(conn, HOUR) == [{"tool": "Write", "language": "Plain text", "accept": 12, "reject": 0}]


def test_models(conn: Reader) -> None:
    by_model = {m["model"]: m for m in models(conn, HOUR)}
    opus = by_model["claude-opus-5-5"]
    assert (opus["requests"], opus["errors"], opus["input"]) == (44, 1, 11 * 5100)
    assert opus["p50_ms"] <= opus["p95_ms"]
    assert opus["cache_hit_ratio"] == pytest.approx(11 * 21000 / (11 * (5100 + 21000 + 900)))
    # 2.1.197 reports cost under "claude-opus-4-8[1m]" but requests under "claude-opus-4-8": kept apart as sent
    assert by_model["claude-opus-4-8"]["requests"] == 4
    assert by_model["claude-opus-4-8[1m]"]["cost_usd"] == pytest.approx(0.048625)


@pytest.mark.parametrize("n", [1, 2, 3, 19, 20, 101, 1000])
def test_nearest_rank(n: int) -> None:
    values = sorted(random.Random(n).randint(0, 5000) for _ in range(n))
    for p in (1, 50, 95, 99, 100):
        rank = max(1, -(-n * p // 100))  # ceil(p/100 * n)
        assert nearest_rank(values, p) == values[rank - 1]
        assert sum(v <= nearest_rank(values, p) for v in values) >= n * p / 100
    assert nearest_rank([], 50) is None
