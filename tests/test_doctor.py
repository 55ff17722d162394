"""`ccmonitor doctor` against a real server, on a temporary HOME written by `ccmonitor configure`."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

import stored
from ccmonitor.configure import configure_command
from ccmonitor.doctor import doctor_command
from test_configure import run


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


def configure_for(server, protocol: str, home: Path) -> None:
    port = server.grpc_port if protocol == "grpc" else server.http_port
    args = ["--protocol", protocol, "--endpoint", f"http://127.0.0.1:{port}"]
    assert run(configure_command, args, home).exit_code == 0


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf", "http/json"])
def test_doctor_sends_a_record_and_finds_it_stored(server, home: Path, protocol: str) -> None:
    configure_for(server, protocol, home)
    result = run(doctor_command, ["--app-url", f"http://127.0.0.1:{server.app_port}"], home)
    assert result.exit_code == 0, result.output
    assert "test record stored" in result.output
    marker = result.output.rsplit("session ", 1)[1].strip(" )\n")
    rows = stored.rows(server.db_path, "SELECT event_name FROM events WHERE session_id = ?", (marker,))
    assert rows == [("ccmonitor.doctor",)]


def test_doctor_says_when_telemetry_is_off(home: Path) -> None:
    result = run(doctor_command, [], home)
    assert result.exit_code == 1
    assert "CLAUDE_CODE_ENABLE_TELEMETRY is not 1" in result.output


def test_doctor_says_when_nothing_listens(home: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    run(configure_command, ["--protocol", "http/protobuf", "--endpoint", f"http://127.0.0.1:{port}"], home)
    result = run(doctor_command, ["--app-url", f"http://127.0.0.1:{port}", "--timeout", "1"], home)
    assert result.exit_code == 1
    assert f"cannot read http://127.0.0.1:{port}/health" in result.output


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_doctor_reads_stats_with_the_token_claude_code_sends(server_factory, home: Path, protocol: str) -> None:
    """A server with --auth-token guards /stats too: doctor passes the exporter's Authorization header."""
    server = server_factory(auth_token="s3cret")
    port = server.grpc_port if protocol == "grpc" else server.http_port
    args = ["--protocol", protocol, "--endpoint", f"http://127.0.0.1:{port}", "--auth-token", "s3cret"]
    assert run(configure_command, args, home).exit_code == 0
    result = run(doctor_command, ["--app-url", server.url()], home)
    assert result.exit_code == 0, result.output
    assert "test record stored" in result.output


def test_doctor_with_a_laptops_ingest_token(server_factory, db_target, home: Path) -> None:
    """A laptop's own token (role ingest) may not read /stats: the doctor still confirms the record,
    from the server's answer (given only after commit), and the record is there."""
    from click.testing import CliRunner

    import stored
    from ccmonitor.cli import main
    server = server_factory(auth_token="admin-s3cret")
    token = CliRunner().invoke(main, ["token", "create", "laptop", "--db", str(db_target)]).stdout.strip()
    args = ["--protocol", "grpc", "--endpoint", f"http://127.0.0.1:{server.grpc_port}", "--token", token]
    assert run(configure_command, args, home).exit_code == 0
    result = run(doctor_command, ["--app-url", server.url()], home)
    assert result.exit_code == 0, result.output
    assert "role ingest" in result.output and "test record stored" in result.output
    assert stored.scalar(db_target, "SELECT COUNT(*) FROM events WHERE event_name = 'ccmonitor.doctor'") == 1
