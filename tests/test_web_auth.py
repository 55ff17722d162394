"""The auth token on the app port (web/auth.py): every path needs it except /health and /login, as
Bearer (percent-encoded or not) or as the password of HTTP Basic for scripts; a page without it goes
to /login (tests/test_web_login.py); and `serve` warns when it listens beyond loopback without one."""

from __future__ import annotations

import base64
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from capture import requests
from ccmonitor.cli import exposure_warning
from ccmonitor.config import SETTINGS
from conftest import make_config

TOKEN = "s3cret-token"
LOGS = next(c for c in requests("http-protobuf") if c.signal == "logs")
PB = {"content-type": "application/x-protobuf"}


def basic(user: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def guarded(server_factory: Any) -> Any:
    return server_factory(auth_token=TOKEN)


def get(server: Any, path: str, headers: dict[str, str] | None = None, port: int | None = None) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port or server.app_port}{path}", headers=headers, timeout=10)


def test_without_the_token_pages_go_to_login_and_the_api_answers_its_error_shape(guarded: Any) -> None:
    for path in ("/", "/sessions", "/sessions/abc?x=1", "/static/app.js", "/nothing-here"):
        r = get(guarded, path)
        assert r.status_code == 303, path
        assert r.headers["location"] == "/login?next=" + quote(path, safe=""), path
    login = get(guarded, "/login")
    assert login.status_code == 200 and 'name="token"' in login.text and TOKEN not in login.text
    for path in ("/api/overview", "/api/openapi.json", "/api/no-such-endpoint", "/stats"):
        r = get(guarded, path, basic("me", "wrong"))
        assert r.status_code == 401 and r.headers["content-type"] == "application/json", path
        assert r.json()["error"]["code"] == "unauthenticated" and TOKEN not in r.text
        assert r.headers["www-authenticate"].startswith("Bearer")  # no Basic prompt popping up in a browser
    assert get(guarded, "/stats", port=guarded.http_port).status_code == 401  # /stats is on 4318 too


@pytest.mark.parametrize("headers", [
    {"authorization": f"Bearer {TOKEN}"},
    {"authorization": f"Bearer%20{TOKEN}"},  # OTEL_EXPORTER_OTLP_HEADERS is not decoded by HTTP exporters
    {"authorization": f"bearer  {TOKEN}"},
    basic("anyone", TOKEN),
    basic("", TOKEN),
])
def test_bearer_or_basic_with_the_token_as_password_opens_everything(guarded: Any, headers: dict[str, str]) -> None:
    assert "<html" in get(guarded, "/", headers).text
    assert get(guarded, "/api/overview", headers).json()["empty"] is True
    assert get(guarded, "/stats", headers).json()["rows"]["events"] == 0
    assert get(guarded, "/static/app.js", headers).status_code == 200


@pytest.mark.parametrize("headers", [
    {"authorization": "Bearer wrong"},
    {"authorization": f"Bearer {TOKEN}x"},
    {"authorization": TOKEN},
    {"authorization": f"Token {TOKEN}"},
    basic(TOKEN, "wrong"),  # the token as user name is not the password
    {"authorization": "Basic " + base64.b64encode(TOKEN.encode()).decode()},  # no colon
    {"authorization": "Basic not-base64!"},
    {"authorization": "Basic " + base64.b64encode(b"me:\xff").decode()},
])
def test_a_wrong_token_is_refused(guarded: Any, headers: dict[str, str]) -> None:
    assert get(guarded, "/", headers).status_code == 303  # to /login
    assert get(guarded, "/api/overview", headers).status_code == 401


def test_health_stays_open_and_tells_nothing_secret(guarded: Any) -> None:
    for port in (guarded.app_port, guarded.http_port):
        r = get(guarded, "/health", port=port)
        assert r.status_code == 200 and set(r.json()) == {"status", "version", "db_writable"}
        assert "www-authenticate" not in r.headers
    assert httpx.head(guarded.url("/health"), timeout=10).status_code == 200


def test_otlp_on_the_app_port_still_needs_the_bearer_token(guarded: Any) -> None:
    def post(headers: dict[str, str]) -> httpx.Response:
        return httpx.post(guarded.url("/v1/logs"), content=LOGS.wire, headers={**PB, **headers}, timeout=10)

    refused = post({})
    assert refused.status_code == 401 and refused.headers["content-type"] == PB["content-type"]  # an OTLP status
    assert post({"authorization": "Bearer wrong"}).status_code == 401
    assert post({"authorization": f"Bearer%20{TOKEN}"}).status_code == 200


def test_without_a_token_everything_stays_open(server: Any) -> None:
    for path in ("/", "/api/overview", "/stats", "/static/app.js", "/health"):
        assert get(server, path).status_code == 200, path


def serve_output(*args: str, env: dict[str, str]) -> tuple[str, str]:
    """Start a real `ccmonitor serve` on free ports, stop it once it printed its startup lines."""
    argv = [sys.executable, "-m", "ccmonitor", "serve", "--app-port", "0", "--http-port", "0", "--grpc-port", "0",
            *args]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    killer = threading.Timer(60, proc.kill)
    killer.start()
    try:
        assert proc.stdout is not None
        out = ""
        while "Ctrl+C stops" not in out:
            line = proc.stdout.readline()
            assert line, f"serve exited early: {proc.stderr.read() if proc.stderr else ''}"
            out += line
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=30)
    finally:
        killer.cancel()
        proc.kill()
    assert proc.returncode == 0, err
    return out + rest, err


@pytest.mark.parametrize("token", [None, TOKEN])
def test_serve_warns_when_open_to_the_network_without_a_token(tmp_path: Path, token: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCMONITOR_")}
    env |= {"PYTHONUNBUFFERED": "1", **({"CCMONITOR_AUTH_TOKEN": token} if token else {})}
    out, err = serve_output("--listen-all", "--db", str(tmp_path / "x.db"), env=env)
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    if token:
        assert warnings == []
    else:
        option = next(s for s in SETTINGS if s.name == "auth_token")
        assert len(warnings) == 1
        assert "0.0.0.0" in warnings[0] and "dashboard, API and OTLP ports" in warnings[0]
        assert "--auth-token" in warnings[0] and option.env in warnings[0]
    assert TOKEN not in out + err  # the token is never printed


@pytest.mark.parametrize("host,warns", [("127.0.0.1", False), ("::1", False), ("localhost", False),
                                        ("127.0.0.2", False), ("0.0.0.0", True), ("::", True), ("10.0.0.5", True),
                                        ("monitor.internal", True)])
def test_only_hosts_beyond_loopback_warn(tmp_path: Path, host: str, warns: bool) -> None:
    config = make_config(tmp_path / "x.db").replace(host=host)
    assert (exposure_warning(config) is not None) is warns
    assert exposure_warning(config.replace(auth_token=TOKEN)) is None


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_token_that_cannot_be_looked_up_is_503_not_401(server_factory: Any, db_target: Path) -> None:
    """The database failing under the token lookup is the store's trouble: retry later, not 'wrong token'."""
    from click.testing import CliRunner

    from ccmonitor.cli import main
    server = server_factory()
    text = CliRunner().invoke(main, ["token", "create", "lead", "--role", "viewer", "--db", str(db_target)]).stdout
    bearer = {"authorization": f"Bearer {text.strip()}"}
    assert get(server, "/api/overview", bearer).status_code == 200
    with sqlite3.connect(db_target) as conn:
        conn.execute("ALTER TABLE tokens RENAME TO tokens_away")
    r = get(server, "/api/overview", bearer)
    assert r.status_code == 503 and r.json()["error"]["code"] == "database_unavailable"
    assert int(r.headers["retry-after"]) >= 1
    otlp = httpx.post(server.url("/v1/logs"), content=LOGS.wire, headers={**PB, **bearer}, timeout=10)
    assert otlp.status_code == 503
