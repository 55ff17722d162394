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
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from ccmonitor.claude_settings import DEFAULT_PORTS, PROTOCOLS, effective_env, project_option, settings_files


class DoctorFailure(Exception):
    """One failed check, with the sentence that tells the user what to do."""


def logs_target(env: Mapping[str, str]) -> tuple[str, str]:
    """(protocol, URL or host:port) the logs exporter will use, after the OTel defaulting rules."""
    protocol = env.get("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
    if protocol not in PROTOCOLS:
        raise DoctorFailure(f"OTEL_EXPORTER_OTLP_PROTOCOL is {protocol!r}; set one of {', '.join(PROTOCOLS)}")
    specific = env.get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or f"http://localhost:{DEFAULT_PORTS[protocol]}"
    base = base.rstrip("/")
    if protocol == "grpc":
        return protocol, specific or base
    return protocol, specific or base + "/v1/logs"


def otlp_headers(env: Mapping[str, str], protocol: str) -> dict[str, str]:
    """Headers as Claude Code sends them: percent-decoded over gRPC, verbatim over HTTP."""
    from urllib.parse import unquote

    raw = ",".join(env.get(k, "") for k in ("OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_LOGS_HEADERS"))
    headers = {}
    for item in raw.split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            value = value.strip()
            headers[key.strip().lower()] = unquote(value) if protocol == "grpc" else value
    return headers


def test_request(marker: str, resource_attributes: str = "") -> Any:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    def kv(key: str, value: str) -> KeyValue:
        return KeyValue(key=key, value=AnyValue(string_value=value))

    request = ExportLogsServiceRequest()
    rl = request.resource_logs.add()
    pairs = [p.partition("=") for p in resource_attributes.split(",") if "=" in p]
    rl.resource.attributes.extend([kv(k.strip(), v.strip()) for k, _, v in pairs])
    rl.resource.attributes.append(kv("service.name", "ccmonitor-doctor"))
    sl = rl.scope_logs.add()
    sl.scope.name = "ccmonitor.doctor"
    record = sl.log_records.add()
    record.time_unix_nano = record.observed_time_unix_nano = time.time_ns()
    record.body.string_value = "ccmonitor.doctor"
    record.attributes.extend([kv("event.name", "doctor"), kv("session.id", marker)])
    return request


def send_logs(env: Mapping[str, str], request: Any, timeout: float) -> str:
    """Export `request` the way Claude Code's logs exporter would; returns where it went."""
    protocol, target = logs_target(env)
    headers = otlp_headers(env, protocol)
    gzip_on = (env.get("OTEL_EXPORTER_OTLP_COMPRESSION") or "").lower() == "gzip"
    if protocol == "grpc":
        _send_grpc(target, request, headers, gzip_on, timeout)
    else:
        _send_http(target, protocol, request, headers, gzip_on, timeout)
    return f"{protocol} {target}"


def _send_grpc(target: str, request: Any, headers: dict[str, str], gzip_on: bool, timeout: float) -> None:
    import grpc
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2_grpc import LogsServiceStub

    url = urlsplit(target if "://" in target else f"http://{target}")
    address = f"{url.hostname}:{url.port or 4317}"
    channel = (
        grpc.secure_channel(address, grpc.ssl_channel_credentials())
        if url.scheme == "https"
        else grpc.insecure_channel(address)
    )
    compression = grpc.Compression.Gzip if gzip_on else grpc.Compression.NoCompression
    try:
        LogsServiceStub(channel).Export(
            request, metadata=list(headers.items()), timeout=timeout, compression=compression
        )
    except grpc.RpcError as exc:
        raise DoctorFailure(f"gRPC export to {address} failed: {exc.code().name} {exc.details()}") from None
    finally:
        channel.close()


def _send_http(url: str, protocol: str, request: Any, headers: dict[str, str], gzip_on: bool, timeout: float) -> None:
    import gzip
    import urllib.error
    import urllib.request

    from google.protobuf.json_format import MessageToJson

    if protocol == "http/json":
        body, ctype = MessageToJson(request).encode(), "application/json"
    else:
        body, ctype = request.SerializeToString(), "application/x-protobuf"
    headers = {**headers, "content-type": ctype}
    if gzip_on:
        body, headers["content-encoding"] = gzip.compress(body), "gzip"
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout):
            pass
    except urllib.error.HTTPError as exc:
        raise DoctorFailure(f"HTTP export to {url} answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DoctorFailure(f"cannot reach {url}: {getattr(exc, 'reason', exc)}") from None


def get_json(url: str, timeout: float, headers: Mapping[str, str] | None = None) -> Any:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=dict(headers or {})),
                                    timeout=timeout) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise DoctorFailure(f"{url} answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DoctorFailure(f"cannot read {url}: {getattr(exc, 'reason', exc)}") from None


def event_count(stats: Any) -> int:
    """The events row count out of /stats ({"rows": {"events": n, ...}, ...})."""
    rows = stats.get("rows") if isinstance(stats, dict) else None
    count = rows.get("events") if isinstance(rows, dict) else None
    if not isinstance(count, int) or isinstance(count, bool):
        raise DoctorFailure("the server's /stats has no events row count; is this a ccmonitor server?")
    return count


def default_app_url(env: Mapping[str, str]) -> str:
    _, target = logs_target(env)
    host = urlsplit(target if "://" in target else f"http://{target}").hostname or "localhost"
    return f"http://{host}:5000"


def confirm_stored(app_url: str, before: int, timeout: float, headers: Mapping[str, str]) -> int:
    deadline = time.monotonic() + timeout
    while True:
        count = event_count(get_json(f"{app_url}/stats", timeout=5, headers=headers))
        if count > before:
            return count
        if time.monotonic() > deadline:
            raise DoctorFailure(
                f"the test record did not show up in {app_url}/stats within {timeout:.0f}s; "
                "check that the endpoint forwards to this server (collector logs: docker compose logs)"
            )
        time.sleep(0.25)


def run_doctor(env: Mapping[str, str], app_url: str | None, timeout: float, echo: Any = click.echo) -> None:
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
    get_json(f"{app_url}/health", timeout=5)
    # a server with --auth-token guards /stats with the token Claude Code sends (HTTP form: Bearer%20x)
    auth = {k: v for k, v in otlp_headers(env, "http/protobuf").items() if k == "authorization"}
    before = event_count(get_json(f"{app_url}/stats", timeout=5, headers=auth))
    echo(f"ok   server {app_url} is healthy ({before} events stored)")
    marker = str(uuid.uuid4())
    where = send_logs(env, test_request(marker, env.get("OTEL_RESOURCE_ATTRIBUTES", "")), timeout=10)
    echo(f"ok   test record accepted by {where}")
    after = confirm_stored(app_url, before, timeout, auth)
    echo(f"ok   test record stored ({after} events now; event_name 'ccmonitor.doctor', session {marker})")


@click.command("doctor")
@project_option
@click.option("--app-url", help="ccmonitor's app port [default: http://<endpoint host>:5000].")
@click.option("--timeout", type=float, default=20.0, show_default=True, help="Seconds to wait for it.")
def doctor_command(project: Path | None, app_url: str | None, timeout: float) -> None:
    """Read Claude Code's telemetry settings, send a test record, confirm it was stored."""
    files = settings_files(project.resolve() if project else None)
    click.echo("read " + (", ".join(str(f) for f in files) or "no settings file; using the environment only"))
    try:
        run_doctor(effective_env(os.environ, files), app_url, timeout)
    except DoctorFailure as failure:
        click.echo(f"FAIL {failure}", err=True)
        raise SystemExit(1) from None
