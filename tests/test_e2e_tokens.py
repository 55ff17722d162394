"""End to end with a token per laptop: the real Claude Code CLI, configured by `ccmonitor configure
--token`, sends to a server that asks for tokens; its records carry the token's name and team (the
token's `team` winning over the client's OTEL_RESOURCE_ATTRIBUTES), the team view counts its cost
under that team, and a revoked token's next session is refused and stores nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from ccmonitor.cli import main
from ccmonitor.configure import configure_command
from test_configure import run
from test_e2e_claude import STORED_EVENTS, claude_session, endpoint, event_counts, query, session_stored, wait_until

pytestmark = pytest.mark.e2e
ADMIN = "admin-token-e2e"


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_a_laptop_sends_with_its_own_token(server_factory: Any, db_target: Path | str, tmp_path: Path,
                                           protocol: str) -> None:
    server = server_factory(auth_token=ADMIN)
    created = CliRunner().invoke(main, ["token", "create", "ana-laptop", "--attr", "team=infra",
                                        "--db", str(db_target)])
    assert created.exit_code == 0, created.output
    home, workdir = tmp_path / "home", tmp_path / "acme-app"
    home.mkdir()
    workdir.mkdir()
    port = server.grpc_port if protocol == "grpc" else server.http_port
    configured = run(configure_command, ["--protocol", protocol, "--endpoint", endpoint(port),
                                         "--token", created.stdout.strip()], home)
    assert configured.exit_code == 0, configured.output

    output = claude_session(workdir=workdir, home=home, otlp_protocol=protocol, otlp_endpoint=endpoint(port))
    session_id, db = output["session_id"], server.db_path
    wait_until(lambda: session_stored(db, session_id))
    assert event_counts(db, session_id) == STORED_EVENTS
    for (text,) in query(db, "SELECT DISTINCT custom_attributes FROM events WHERE session_id = ?", session_id):
        attrs = text if isinstance(text, dict) else json.loads(text)
        # the client says team=platform (OTEL_RESOURCE_ATTRIBUTES); its token says infra, and wins
        assert (attrs["ccmonitor.token"], attrs["team"], attrs["department"]) == ("ana-laptop", "infra", "eng")
    team = httpx.get(server.url("/api/team"), params={"by": "team", "range": "30d"},
                     headers={"authorization": f"Bearer {ADMIN}"}, timeout=30).json()
    infra = next(g for g in team["leaderboard"]["groups"] if g["group"] == "infra")
    assert infra["cost_usd"] == pytest.approx(output["total_cost_usd"])

    revoked = CliRunner().invoke(main, ["token", "revoke", "ana-laptop", "--db", str(db_target)])
    assert revoked.exit_code == 0
    again = claude_session(workdir=workdir, home=home, otlp_protocol=protocol, otlp_endpoint=endpoint(port))
    assert query(db, "SELECT COUNT(*) FROM events WHERE session_id = ?", again["session_id"]) == [(0,)]
