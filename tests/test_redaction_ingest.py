"""Redaction through a real server on both backends (issue #10): secrets in real OTLP requests are stored as
`[REDACTED:<kind>]`, `--redact off` stores them as sent, a resend is still a duplicate, /stats counts by
kind, a patterns file adds kinds (a bad one stops the start with one line), no secret reaches a log, and
`--hash-emails` stores one keyed hash per address in events, metrics and spans, which the user filter
and the leaderboard group by."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

import stored
from ccmonitor.errors import ConfigError
from otlp_builders import DELTA, T0, event_request, kv, post_export, sum_request

GITHUB = "ghp_" + "Xq7" * 4 + "aB3dE5fG7hJ9kL1mN3pQ5rS7"
AWS = "AKIA" + "Q7XG5M2RZ4B8N6P3"
PASSWORD = "Tr0ub4dor&3x"
ANTHROPIC = "sk-ant-api03-" + "Zx9_" * 23 + "QAA"
SECRETS = (GITHUB, AWS, PASSWORD, ANTHROPIC)
PROMPT = f"the deploy fails, here is my .env:\nANTHROPIC_API_KEY={ANTHROPIC}\nDB_PASSWORD={PASSWORD}\n"
BASH = json.dumps({"bash_command": "git", "full_command": f"git push https://ci:{PASSWORD}@git.example.com/app.git"})
EVENTS = [
    {"event.name": "user_prompt", "session.id": "s1", "prompt": PROMPT, "prompt_length": len(PROMPT)},
    {"event.name": "tool_result", "session.id": "s1", "tool_name": "Bash", "tool_parameters": BASH,
     "tool_input": json.dumps({"command": f"echo {GITHUB} | gh auth login --with-token"}), "success": "true"},
    {"event.name": "api_error", "session.id": "s1", "error": f"401 from https://api.example.com: token {GITHUB}",
     "status_code": 401, "attempt": 1},
]
HOUR = {"range": "custom", "from": "2026-11-27T16:00:00Z", "to": "2026-11-27T17:00:00Z"}


def spans_request() -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.append(kv("service.name", "claude-code"))
    scope = resource_spans.scope_spans.add()
    scope.scope.name = "com.anthropic.claude_code.tracing"
    span = scope.spans.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="claude_code.tool",
                           start_time_unix_nano=T0, end_time_unix_nano=T0 + 5_000_000)
    span.attributes.extend([kv("session.id", "s1"), kv("user.email", "Alice@Example.com"),
                            kv("full_command", f"aws configure set aws_access_key_id {AWS}")])
    span.status.message = f"exit 1: DB_PASSWORD={PASSWORD}"
    event = span.events.add(name="tool.output", time_unix_nano=T0 + 1)
    event.attributes.append(kv("output", f"GITHUB_TOKEN={GITHUB}"))
    return request


def send_all(server: Any) -> None:
    post_export(server.http_port, "logs", event_request(EVENTS), "protobuf", ExportLogsServiceResponse)
    post_export(server.http_port, "traces", spans_request(), "json", ExportTraceServiceResponse)


def stored_text(server: Any) -> str:
    """Every text column of every stored row, as one string."""
    parts = []
    for sql in ("SELECT prompt, tool_parameters, error, custom_attributes FROM events",
                "SELECT status_message, custom_attributes, span_events FROM spans"):
        parts += [str(value) for row in stored.rows(server.db_path, sql) for value in row if value is not None]
    return "\n".join(parts)


def stats(server: Any) -> dict[str, Any]:
    return httpx.get(server.url("/stats"), timeout=30).json()  # type: ignore[no-any-return]


def test_secrets_in_real_requests_are_stored_redacted(server: Any) -> None:
    send_all(server)
    rows = stored.rows(server.db_path, "SELECT event_name, prompt, tool_parameters, error, custom_attributes"
                                       " FROM events ORDER BY timestamp")
    by_name = {r[0]: r for r in rows}
    assert by_name["claude_code.user_prompt"][1] == (
        "the deploy fails, here is my .env:\nANTHROPIC_API_KEY=[REDACTED:anthropic]\nDB_PASSWORD=[REDACTED:password]\n")
    assert json.loads(by_name["claude_code.tool_result"][2])["full_command"] == (
        "git push https://ci:[REDACTED:url_password]@git.example.com/app.git")
    assert json.loads(by_name["claude_code.tool_result"][4])["tool_input"] == (
        '{"command": "echo [REDACTED:github] | gh auth login --with-token"}')
    assert by_name["claude_code.api_error"][3] == "401 from https://api.example.com: token [REDACTED:github]"
    status, attributes, events = stored.rows(server.db_path,
                                             "SELECT status_message, custom_attributes, span_events FROM spans")[0]
    assert status == "exit 1: DB_PASSWORD=[REDACTED:password]"
    assert json.loads(attributes)["full_command"] == "aws configure set aws_access_key_id [REDACTED:aws_access_key]"
    assert json.loads(events)[0]["attributes"] == {"output": "GITHUB_TOKEN=[REDACTED:github]"}
    text = stored_text(server)
    assert not [s for s in SECRETS if s in text]


def test_redact_off_stores_what_was_sent(server_factory: Any) -> None:
    server = server_factory(redact="off")
    send_all(server)
    text = stored_text(server)
    assert all(s in text for s in SECRETS) and "[REDACTED" not in text
    assert stats(server)["redactions"] == {}


def test_a_resend_is_a_duplicate_and_stats_count_by_kind(server: Any) -> None:
    send_all(server)
    before = stored.counts(server.db_path)
    send_all(server)  # byte-identical: the dedup key is the wire's, whatever redaction made of the text
    assert stored.counts(server.db_path) == before == {**before, "events": 3, "spans": 1}
    body = stats(server)
    assert body["since_start"]["logs"]["http/protobuf"]["duplicates"] == 3
    assert body["since_start"]["traces"]["http/json"]["duplicates"] == 1
    once = {"anthropic": 1, "password": 2, "url_password": 1, "github": 3, "aws_access_key": 1}
    assert body["redactions"] == {kind: 2 * n for kind, n in sorted(once.items())}  # counted per request decoded
    assert body["emails_hashed"] == 0


def test_a_patterns_file_adds_kinds(server_factory: Any, tmp_path: Path) -> None:
    patterns = tmp_path / "patterns.txt"
    patterns.write_text("# our ticket system's session ids\nticket_session  tks_[0-9a-f]{32}\n")
    server = server_factory(redact=str(patterns))
    event = {"event.name": "user_prompt", "session.id": "s1", "prompt": f"tks_{'ab' * 16} and {GITHUB}"}
    post_export(server.http_port, "logs", event_request([event]), "protobuf", ExportLogsServiceResponse)
    prompt = stored.scalar(server.db_path, "SELECT prompt FROM events")
    assert prompt == "[REDACTED:ticket_session] and [REDACTED:github]"
    assert stats(server)["redactions"] == {"github": 1, "ticket_session": 1}


def test_a_bad_patterns_file_stops_the_start_with_one_line(server_factory: Any, tmp_path: Path) -> None:
    patterns = tmp_path / "patterns.txt"
    patterns.write_text("ok  ok_[a-z]{8}\nbroken  broken_(\n")
    with pytest.raises(ConfigError) as caught:
        server_factory(redact=str(patterns))
    assert str(caught.value).startswith(f"--redact {patterns}, line 2: bad regular expression")


def test_a_bad_patterns_file_from_the_command_line(tmp_path: Path) -> None:
    patterns = tmp_path / "patterns.txt"
    patterns.write_text("Bad Kind x\n")
    proc = subprocess.run([sys.executable, "-m", "ccmonitor", "serve", "--db", str(tmp_path / "x.db"),
                           "--redact", str(patterns)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: --redact {patterns}, line 1: expected `kind regex` (kind: lower-case letters, digits, _)"]
    assert not (tmp_path / "x.db").exists()  # nothing started


def test_no_secret_reaches_a_log(server_factory: Any, caplog: pytest.LogCaptureFixture,
                                 capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    server = server_factory(log_level="DEBUG")
    send_all(server)
    bad_json = json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"timeUnixNano": f"not a time {GITHUB}", "body": {"stringValue": PASSWORD}}]}]}]})
    httpx.post(f"http://127.0.0.1:{server.http_port}/v1/logs", content=bad_json,
               headers={"content-type": "application/json"}, timeout=30)
    stats(server)
    server.stop()
    out, err = capfd.readouterr()
    server_side = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]  # not this client's
    assert server_side  # the server did log (at DEBUG), so the check below means something
    logged = "\n".join(caplog.handler.format(r) for r in server_side) + out + err
    assert not [s for s in SECRETS if s in logged]


# --- --hash-emails ------------------------------------------------------------------------------------

HASHED = re.compile(r"email:[0-9a-f]{16}")


def send_usage(server: Any, email: str, session: str, cost: float, minute: int) -> None:
    event = {"event.name": "user_prompt", "session.id": session, "user.email": email, "prompt": "hi",
             "_time": T0 + minute * 60_000_000_000}
    post_export(server.http_port, "logs", event_request([event]), "protobuf", ExportLogsServiceResponse)
    t = T0 + minute * 60_000_000_000
    for name, value in (("claude_code.cost.usage", cost), ("claude_code.session.count", 1.0)):
        request = sum_request([(t - 1_000_000_000, t, value)], temporality=DELTA, name=name,
                              attrs={"session.id": session, "user.email": email, "model": "claude-opus-5-5"})
        post_export(server.http_port, "metrics", request, "protobuf", ExportMetricsServiceResponse)


def test_hash_emails_gives_one_identity_per_address_that_views_group_by(server_factory: Any) -> None:
    server = server_factory(hash_emails=True)
    send_usage(server, "Alice@Example.com", "s1", 1.5, 1)
    other = server_factory(db=server.db_path, hash_emails=True)  # a second receiver on the same database
    send_usage(other, "alice@example.com", "s2", 0.25, 2)
    send_usage(other, "bob@example.com", "s3", 0.5, 3)
    post_export(other.http_port, "traces", spans_request(), "protobuf", ExportTraceServiceResponse)

    events = dict(stored.rows(server.db_path, "SELECT session_id, user_email FROM events"))
    metrics = set(stored.rows(server.db_path, "SELECT session_id, user_email FROM metrics"))
    alice, bob = events["s1"], events["s3"]
    assert HASHED.fullmatch(alice) and HASHED.fullmatch(bob) and alice != bob
    assert events["s2"] == alice  # any case, either receiver: one identity
    assert metrics == {("s1", alice), ("s2", alice), ("s3", bob)}
    span_attributes = json.loads(stored.scalar(server.db_path, "SELECT custom_attributes FROM spans"))
    assert span_attributes["user.email"] == alice
    everything = json.dumps(stored.rows(server.db_path, "SELECT * FROM events")
                            + stored.rows(server.db_path, "SELECT * FROM metrics")
                            + stored.rows(server.db_path, "SELECT * FROM spans"), default=str)
    assert "@" not in everything

    def api(path: str, **params: str) -> Any:
        r = httpx.get(server.url(path), params={**HOUR, **params}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    assert {u["id"] for u in api("/api/facets")["users"]} == {alice, bob}
    assert api("/api/panels/tiles", user=alice)["data"]["sessions"] == 2
    board = {row["user"]: row for row in api("/api/team")["leaderboard"]["users"]}
    assert set(board) == {alice, bob}
    assert board[alice]["cost_usd"] == pytest.approx(1.75) and board[alice]["sessions"] == 2
    assert board[bob]["cost_usd"] == pytest.approx(0.5)
    assert stats(server)["emails_hashed"] == 3  # per receiver: one event and two points
    assert stats(other)["emails_hashed"] == 2 * 3 + 1  # and the span
