"""End to end: the real Claude Code CLI, a scripted Messages API and our server, all on loopback.

Each test runs one real `claude -p` session (about a second) through the script in
tests/anthropic_standin.py, so every number the client reports is known in advance; the expected
values are the ground truth of /work/shared/claude-code/README.md for client 2.1.332.

`test_harness_*` checks the harness alone against tests/otlp_sink.py: if those pass and
`test_session_*` fails, the fault is in ccmonitor. A missing CLI fails (CI installs it); it never skips.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import stored
from anthropic_standin import AnthropicStandin
from claude_cli import PROMPT, ClaudeNotInstalled, claude_binary, run_claude
from otlp_sink import OtlpSink

pytestmark = pytest.mark.e2e

PROTOCOLS = [
    pytest.param("grpc", id="grpc"),
    pytest.param("http/protobuf", id="http-protobuf"),
    pytest.param("http/json", id="http-json"),
]
MODEL = "claude-opus-5-5"
TOKENS = {"input": 5100.0, "output": 280.0, "cacheRead": 21000.0, "cacheCreation": 900.0}
COST_USD = 0.0347  # what 2.1.332 computes for MODEL from TOKENS
EVENTS = {
    "managed_settings_resolved": 1,
    "plugin_loaded": 3,
    "user_prompt": 1,
    "api_request": 4,
    "tool_decision": 3,
    "tool_result": 2,
    "assistant_response": 2,
}
STORED_EVENTS = {f"claude_code.{name}": count for name, count in EVENTS.items()}  # event_name column
TOOL_DECISIONS = {("Write", "accept"): 1, ("Bash", "accept"): 1, ("Bash", "reject"): 1}
TOOL_RESULTS = {"Write": 1, "Bash": 1}
ARRIVAL_TIMEOUT_S = 10.0


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "acme-app"
    path.mkdir()
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def require_claude() -> None:
    """Fail (never skip) with the install command: CI installs the CLI, so a missing one is a bug."""
    try:
        claude_binary()
    except ClaudeNotInstalled as exc:
        message = str(exc)
    else:
        return
    pytest.fail(message, pytrace=False)


def claude_session(*, workdir: Path, home: Path, otlp_protocol: str, otlp_endpoint: str) -> dict[str, Any]:
    """Run the scripted session; return the CLI's `--output-format json` result."""
    require_claude()
    with AnthropicStandin(workdir) as api:
        result = run_claude(
            PROMPT,
            cwd=workdir,
            home=home,
            api_url=api.url,
            otlp_protocol=otlp_protocol,
            otlp_endpoint=otlp_endpoint,
        )
        assert result.returncode == 0, (
            f"claude -p exited {result.returncode}\nstderr: {result.stderr[-2000:]}\n"
            f"stdout: {result.stdout[-2000:]}\nAPI stand-in saw:\n{api.summary()}"
        )
        assert len(api.exchanges) == len(api.turns), f"API stand-in saw:\n{api.summary()}"
    output: dict[str, Any] = json.loads(result.stdout)
    assert output["num_turns"] == 4 and not output["is_error"], output
    return output


def endpoint(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def wait_until(arrived: Callable[[], bool]) -> None:
    """Poll until `arrived()` or the deadline; the asserts that follow then say what is missing."""
    deadline = time.monotonic() + ARRIVAL_TIMEOUT_S
    while not arrived() and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_harness_exports_every_signal_to_a_plain_otlp_sink(protocol: str, workdir: Path, home: Path) -> None:
    with OtlpSink() as sink:
        port = sink.grpc_port if protocol == "grpc" else sink.http_port
        output = claude_session(
            workdir=workdir, home=home, otlp_protocol=protocol, otlp_endpoint=endpoint(port)
        )
        # The client flushes at exit; allow the last export a moment to be handled.
        wait_until(
            lambda: (
                dict(sink.event_names()) == EVENTS
                and ("claude_code.token.usage", "output") in sink.metric_sums()
            )
        )
        assert sink.transports() == {protocol}
        assert dict(sink.event_names()) == EVENTS
        sums = sink.metric_sums()
    assert (workdir / "hello.txt").read_text() == "hello\nworld\n"
    assert output["total_cost_usd"] == pytest.approx(COST_USD)
    assert {kind: sums.get(("claude_code.token.usage", kind)) for kind in TOKENS} == TOKENS
    assert sums[("claude_code.cost.usage", None)] == pytest.approx(COST_USD)
    assert sums[("claude_code.lines_of_code.count", "added")] == 3


def query(db: Path | str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    # Read-only connections of either backend: never creates the file, never takes a write lock.
    return stored.rows(db, sql, params)


def event_counts(db: Path | str, session_id: str) -> dict[str, int]:
    rows = query(
        db,
        "SELECT event_name, COUNT(*) FROM events WHERE session_id = ? GROUP BY event_name",
        session_id,
    )
    return dict(rows)


def metric_sum(db: Path | str, session_id: str, metric_name: str, kind: str | None = None) -> float | None:
    sql = "SELECT SUM(metric_value) FROM metrics WHERE session_id = ? AND metric_name = ?"
    params: tuple[object, ...] = (session_id, metric_name)
    if kind is not None:
        sql, params = sql + " AND type = ?", (*params, kind)
    return query(db, sql, *params)[0][0]


def session_stored(db: Path | str, session_id: str) -> bool:
    """The server made the tables before the session started: only the rows may still be missing."""
    output_tokens = metric_sum(db, session_id, "claude_code.token.usage", "output")
    return event_counts(db, session_id) == STORED_EVENTS and output_tokens == TOKENS["output"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_session_is_stored_with_the_clients_totals(
    protocol: str, server: Any, workdir: Path, home: Path
) -> None:
    port = server.grpc_port if protocol == "grpc" else server.http_port
    output = claude_session(workdir=workdir, home=home, otlp_protocol=protocol, otlp_endpoint=endpoint(port))
    session_id, db = output["session_id"], server.db_path
    wait_until(lambda: session_stored(db, session_id))

    assert event_counts(db, session_id) == STORED_EVENTS
    token_rows = query(
        db,
        "SELECT type, SUM(metric_value) FROM metrics WHERE session_id = ? "
        "AND metric_name = 'claude_code.token.usage' GROUP BY type",
        session_id,
    )
    assert dict(token_rows) == TOKENS
    assert metric_sum(db, session_id, "claude_code.lines_of_code.count", "added") == 3
    assert metric_sum(db, session_id, "claude_code.lines_of_code.count", "removed") == 0
    assert metric_sum(db, session_id, "claude_code.session.count") == 1

    api_requests = "FROM events WHERE session_id = ? AND event_name = 'claude_code.api_request'"
    [(inputs, outputs, cache_read, cache_creation, request_cost)] = query(
        db,
        "SELECT SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens), "
        f"SUM(cache_creation_tokens), SUM(cost_usd) {api_requests}",
        session_id,
    )
    assert (inputs, outputs, cache_read, cache_creation) == (5100, 280, 21000, 900)
    metric_cost = metric_sum(db, session_id, "claude_code.cost.usage")
    assert metric_cost == pytest.approx(request_cost)
    assert metric_cost == pytest.approx(output["total_cost_usd"])
    models = {model for (model,) in query(db, f"SELECT DISTINCT model {api_requests}", session_id)}
    if models == {MODEL}:
        assert metric_cost == pytest.approx(COST_USD)

    decisions = query(
        db,
        "SELECT tool_name, decision, COUNT(*) FROM events WHERE session_id = ? AND "
        "event_name = 'claude_code.tool_decision' GROUP BY tool_name, decision",
        session_id,
    )
    assert {(tool, decision): n for tool, decision, n in decisions} == TOOL_DECISIONS
    results = query(
        db,
        "SELECT tool_name, COUNT(*) FROM events WHERE session_id = ? "
        "AND event_name = 'claude_code.tool_result' GROUP BY tool_name",
        session_id,
    )
    assert dict(results) == TOOL_RESULTS
    prompts = query(
        db,
        "SELECT prompt FROM events WHERE session_id = ? AND event_name = 'claude_code.user_prompt'",
        session_id,
    )
    assert prompts == [(PROMPT,)]
    # the client's resource holds OTEL_RESOURCE_ATTRIBUTES plus host/os/service keys: only the former filter
    sets = query(db, "SELECT DISTINCT a.attributes FROM events e JOIN attribute_sets a ON a.id = e.attribute_set"
                 " WHERE e.session_id = ?", session_id)
    assert [json.loads(s) for (s,) in sets] == [{"department": "eng", "team": "platform"}]
