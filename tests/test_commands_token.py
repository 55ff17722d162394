"""`ccmonitor token` and what a token does on a real server, on both backends: only the token on
stdout; the record keeps the token's name and its --attr values (the server's value winning over the
client's); a revoke refuses the very next request on both transports; each role reaches only what
it may; --auth-token stays the admin token; last use is recorded."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from click.testing import CliRunner

import stored
from ccmonitor.cli import main
from otlp_builders import T0, event_request
from test_otlp_grpc import call

PB = {"content-type": "application/x-protobuf"}
ADMIN = "the-admin-token"


def token(db: Path | str, name: str, *args: str) -> str:
    result = CliRunner().invoke(main, ["token", "create", name, "--db", str(db), *args])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ccm_")  # only the token on stdout
    assert "shown only now" in result.stderr
    return lines[0]


def send(server: Any, text: str | None, events: list[dict[str, Any]], resource: dict | None = None) -> httpx.Response:
    body = event_request(events, resource=resource).SerializeToString()
    headers = {**PB, **({"authorization": f"Bearer {text}"} if text else {})}
    return httpx.post(f"http://127.0.0.1:{server.http_port}/v1/logs", content=body, headers=headers, timeout=30)


def attrs_of(db: Path | str, event: str) -> dict[str, Any]:
    [(text,)] = stored.rows(db, "SELECT custom_attributes FROM events WHERE event_name = ?", [event])
    return json.loads(text) if isinstance(text, str) else text


def test_a_token_names_its_records_and_adds_its_attributes(server_factory: Any, db_target: Path | str) -> None:
    server = server_factory()
    laptop = token(db_target, "laptop-ana", "--attr", "team=platform", "--attr", "cost_center=42")
    time.sleep(1.1)  # an open server looks for its first token at most once a second
    client = {"service.name": "claude-code", "team": "web", "department": "eng"}
    # Claude Code repeats OTEL_RESOURCE_ATTRIBUTES on every record: the token's value wins there too
    prompt = {"event.name": "user_prompt", "_time": T0, "team": "web"}
    assert send(server, laptop, [prompt], client).status_code == 200
    attrs = attrs_of(db_target, "claude_code.user_prompt")
    assert attrs["team"] == "platform" and attrs["cost_center"] == "42"  # the token's values win
    assert attrs["department"] == "eng" and attrs["ccmonitor.token"] == "laptop-ana"
    assert not any(key.startswith("resource.") for key in attrs)  # no shadowed client value kept
    [(sets,)] = stored.rows(db_target, "SELECT attributes FROM attribute_sets")
    assert json.loads(sets) == {"ccmonitor.token": "laptop-ana", "cost_center": "42", "department": "eng",
                                "team": "platform"}
    metadata = (("authorization", f"Bearer {laptop}"),)
    call(server.grpc_port, "logs", event_request([{"event.name": "tool_result", "_time": T0}]).SerializeToString(),
         metadata=metadata)
    assert attrs_of(db_target, "claude_code.tool_result")["ccmonitor.token"] == "laptop-ana"
    # a resend by the same token is the same record
    assert send(server, laptop, [prompt], client).status_code == 200
    assert stored.scalar(db_target, "SELECT COUNT(*) FROM events") == 2


def test_without_tokens_the_server_is_open_and_the_first_token_closes_it(server_factory: Any,
                                                                        db_target: Path | str) -> None:
    server = server_factory()
    assert send(server, None, [{"event.name": "a"}]).status_code == 200
    assert httpx.get(server.url("/api/overview"), timeout=10).status_code == 200
    token(db_target, "first")
    time.sleep(1.1)
    assert send(server, None, [{"event.name": "b"}]).status_code == 401
    assert httpx.get(server.url("/api/overview"), timeout=10).status_code == 401


def test_revoke_refuses_the_very_next_request(server_factory: Any, db_target: Path | str) -> None:
    server = server_factory(auth_token=ADMIN)
    laptop = token(db_target, "laptop")
    assert send(server, laptop, [{"event.name": "a"}]).status_code == 200
    result = CliRunner().invoke(main, ["token", "revoke", "laptop", "--db", str(db_target)])
    assert result.exit_code == 0 and "revoked" in result.output
    assert send(server, laptop, [{"event.name": "b"}]).status_code == 401
    with pytest.raises(grpc.RpcError) as info:
        call(server.grpc_port, "logs", event_request([{"event.name": "c"}]).SerializeToString(),
             metadata=(("authorization", f"Bearer {laptop}"),))
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert stored.scalar(db_target, "SELECT COUNT(*) FROM events") == 1
    again = CliRunner().invoke(main, ["token", "revoke", "laptop", "--db", str(db_target)])
    assert again.exit_code == 1 and "no active token" in again.output


@pytest.mark.parametrize("role,sends,reads", [("ingest", True, False), ("viewer", False, True),
                                              ("admin", True, True)])
def test_each_role_reaches_only_what_it_may(server_factory: Any, db_target: Path | str, role: str, sends: bool,
                                            reads: bool) -> None:
    server = server_factory(auth_token=ADMIN)
    text = token(db_target, f"who-{role}", "--role", role)
    assert send(server, text, [{"event.name": "a"}]).status_code == (200 if sends else 403)
    bearer = {"authorization": f"Bearer {text}"}
    for path in ("/api/overview", "/stats", "/"):
        assert httpx.get(server.url(path), headers=bearer, timeout=10).status_code == (200 if reads else 403), path
    if not sends:
        with pytest.raises(grpc.RpcError) as info:
            call(server.grpc_port, "logs", event_request([{"event.name": "c"}]).SerializeToString(),
                 metadata=(("authorization", f"Bearer {text}"),))
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert httpx.get(server.url("/health"), timeout=10).status_code == 200
    # --auth-token is still the admin token, beside the database's tokens
    assert send(server, ADMIN, [{"event.name": "b"}]).status_code == 200
    assert httpx.get(server.url("/api/overview"), headers={"authorization": f"Bearer {ADMIN}"},
                     timeout=10).status_code == 200


def test_list_shows_role_attributes_and_last_use_never_the_token(server_factory: Any, db_target: Path | str) -> None:
    server = server_factory(auth_token=ADMIN)
    laptop = token(db_target, "laptop-bo", "--attr", "team=web")
    token(db_target, "lead", "--role", "viewer")
    assert send(server, laptop, [{"event.name": "a"}]).status_code == 200
    server._threaded.server.gate.flush()  # what the server does every half minute and at stop
    result = CliRunner().invoke(main, ["token", "list", "--json", "--db", str(db_target)])
    assert result.exit_code == 0 and laptop not in result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["laptop-bo"]["role"] == "ingest" and rows["laptop-bo"]["attributes"] == "team=web"
    assert rows["laptop-bo"]["last_used"] is not None and rows["lead"]["last_used"] is None
    assert rows["lead"]["role"] == "viewer" and rows["lead"]["revoked"] is None


@pytest.mark.parametrize("args,words", [
    (["token", "create", "auth-token"], "not auth-token"),
    (["token", "create", "a b"], "letters, digits"),
    (["token", "create", "x", "--attr", "user.email=a@b"], "not a custom attribute"),
    (["token", "create", "x", "--attr", "ccmonitor.token=y"], "not a custom attribute"),
    (["token", "create", "x", "--attr", "team"], "KEY=VALUE"),
    (["token", "create", "x", "--role", "root"], "'root' is not one of"),
], ids=["reserved-name", "space", "identity-attr", "token-attr", "no-value", "bad-role"])
def test_bad_arguments_are_usage_errors(tmp_path: Path, args: list[str], words: str) -> None:
    result = CliRunner().invoke(main, [*args, "--db", str(tmp_path / "t.db")])
    assert result.exit_code == 2 and words in result.output


def test_a_second_active_token_of_one_name_is_refused(db_target: Path | str) -> None:
    token(db_target, "ci")
    result = CliRunner().invoke(main, ["token", "create", "ci", "--db", str(db_target)])
    assert result.exit_code == 1 and "revoke it first" in result.output and "ccm_" not in result.stdout
