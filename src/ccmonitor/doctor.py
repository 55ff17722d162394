"""`ccmonitor doctor`: prove that Claude Code's telemetry reaches the monitor and is stored.

doctor reads the settings the way Claude Code does (user < project < project-local, over the process
environment; claude_settings.py), sends one log record to the configured endpoint with the configured
protocol and headers, and confirms it was stored by polling the server's `GET /stats` on the app port
until `rows.events` grows. The record is an event named `ccmonitor.doctor` (no `claude_code.` prefix, so
dashboards that count Claude Code events never include it).
"""

from __future__ import annotations

import json
import os
import ssl
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from ccmonitor.claude_settings import effective_env, project_option, settings_files
from ccmonitor.errors import DoctorFailure
from ccmonitor.probe import any_ca, logs_target, otlp_headers, send_logs, test_request, tls_context, tls_hint


def get_json(url: str, timeout: float, headers: Mapping[str, str] | None = None,
             context: ssl.SSLContext | None = None) -> Any:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=dict(headers or {})),
                                    timeout=timeout, context=context) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise DoctorFailure(f"{url} answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        hint = "; pass the CA's PEM with --ca-file" if tls_hint(reason) else ""
        raise DoctorFailure(f"cannot read {url}: {reason}{hint}") from None


def stored_events(app_url: str, headers: Mapping[str, str], context: ssl.SSLContext | None) -> int | None:
    """The events row count from /stats; None when the token may only send (role ingest: 403)."""
    try:
        return event_count(get_json(f"{app_url}/stats", timeout=5, headers=headers, context=context))
    except DoctorFailure as exc:
        if " answered 403 " in str(exc):
            return None
        raise


def event_count(stats: Any) -> int:
    """The events row count out of /stats ({"rows": {"events": n, ...}, ...})."""
    rows = stats.get("rows") if isinstance(stats, dict) else None
    count = rows.get("events") if isinstance(rows, dict) else None
    if not isinstance(count, int) or isinstance(count, bool):
        raise DoctorFailure("the server's /stats has no events row count; is this a ccmonitor server?")
    return count


def default_app_url(env: Mapping[str, str]) -> str:
    _, target = logs_target(env)
    url = urlsplit(target if "://" in target else f"http://{target}")
    return f"{'https' if url.scheme == 'https' else 'http'}://{url.hostname or 'localhost'}:5000"  # one TLS setting


def confirm_stored(app_url: str, before: int, timeout: float, headers: Mapping[str, str],
                   context: ssl.SSLContext | None = None) -> int:
    deadline = time.monotonic() + timeout
    while True:
        count = event_count(get_json(f"{app_url}/stats", timeout=5, headers=headers, context=context))
        if count > before:
            return count
        if time.monotonic() > deadline:
            raise DoctorFailure(
                f"the test record did not show up in {app_url}/stats within {timeout:.0f}s; "
                "check that the endpoint forwards to this server (collector logs: docker compose logs)"
            )
        time.sleep(0.25)


def run_doctor(env: Mapping[str, str], app_url: str | None, timeout: float, echo: Any = click.echo,
               ca_file: str | None = None) -> None:
    if env.get("CLAUDE_CODE_ENABLE_TELEMETRY") != "1":
        raise DoctorFailure(
            "CLAUDE_CODE_ENABLE_TELEMETRY is not 1, so Claude Code sends nothing: run ccmonitor configure"
        )
    for key in ("OTEL_LOGS_EXPORTER", "OTEL_METRICS_EXPORTER"):
        if "otlp" not in (env.get(key) or "").split(","):
            raise DoctorFailure(f"{key} is {env.get(key)!r}, not otlp: that signal is never exported")
    prompts = "ON (full prompt text is sent)" if env.get("OTEL_LOG_USER_PROMPTS") == "1" else "off"
    echo(f"ok   telemetry enabled; prompt logging {prompts}")
    app_url = (app_url or default_app_url(env)).rstrip("/")
    context = tls_context(ca_file or any_ca(env)) if app_url.startswith("https:") else None
    get_json(f"{app_url}/health", timeout=5, context=context)
    # a server with --auth-token guards /stats with the token Claude Code sends (HTTP form: Bearer%20x)
    auth = {k: v for k, v in otlp_headers(env, "http/protobuf").items() if k == "authorization"}
    before = stored_events(app_url, auth, context)
    echo(f"ok   server {app_url} is healthy" + (f" ({before} events stored)" if before is not None else
                                                " (this machine's token may only send: role ingest)"))
    marker = str(uuid.uuid4())
    where = send_logs(env, test_request(marker, env.get("OTEL_RESOURCE_ATTRIBUTES", "")), timeout=10)
    echo(f"ok   test record accepted by {where}")
    if before is None:  # ccmonitor answers an export only after its commit: accepted is stored
        echo("ok   test record stored (acknowledged after commit; an ingest token cannot count rows)")
        return
    after = confirm_stored(app_url, before, timeout, auth, context)
    echo(f"ok   test record stored ({after} events now; event_name 'ccmonitor.doctor', session {marker})")


@click.command("doctor")
@project_option
@click.option("--app-url", help="ccmonitor's app port [default: http(s)://<endpoint host>:5000].")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False),
              help="PEM CA to trust for the app port over https [default: NODE_EXTRA_CA_CERTS from the settings].")
@click.option("--timeout", type=float, default=20.0, show_default=True, help="Seconds to wait for it.")
def doctor_command(project: Path | None, app_url: str | None, ca_file: str | None, timeout: float) -> None:
    """Read Claude Code's telemetry settings, send a test record, confirm it was stored."""
    files = settings_files(project.resolve() if project else None)
    click.echo("read " + (", ".join(str(f) for f in files) or "no settings file; using the environment only"))
    try:
        run_doctor(effective_env(os.environ, files), app_url, timeout, ca_file=ca_file)
    except DoctorFailure as failure:
        click.echo(f"FAIL {failure}", err=True)
        raise SystemExit(1) from None
