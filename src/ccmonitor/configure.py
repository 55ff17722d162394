"""`ccmonitor configure` and `ccmonitor doctor`: point Claude Code at the monitor, then prove it works.

configure writes Claude Code's telemetry variables into the `env` block of its settings.json (user
level `~/.claude/settings.json`, or `<project>/.claude/settings.json`), merged into what is there: other
keys are never touched, the old file is kept as `settings.json.bak-<time>` before any change, and a
second run with the same options changes nothing. `--shell` prints export lines instead.

The auth header is written as `Authorization=Bearer <token>` with a literal space, not `%20`: Claude
Code percent-decodes OTEL_EXPORTER_OTLP_HEADERS over gRPC but sends it verbatim over HTTP
(shared/claude-code/TELEMETRY.md section 2), and a plain space reads the same on both.

doctor reads the settings the way Claude Code does (user < project < project-local, over the process
environment), sends one log record to the configured endpoint with the configured protocol and
headers, and confirms it was stored by polling the server's `GET /stats` on the app port until
`rows.events` grows. The record is an event named `ccmonitor.doctor` (no `claude_code.` prefix, so
dashboards that count Claude Code events never include it).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

PROTOCOLS = ("grpc", "http/protobuf", "http/json")
DEFAULT_PORTS = {"grpc": 4317, "http/protobuf": 4318, "http/json": 4318}
PRIVACY_WARNING = (
    "WARNING: OTEL_LOG_USER_PROMPTS=1 makes Claude Code send the FULL TEXT of every prompt you type\n"
    "to the telemetry endpoint, where it is stored in the database (and visible in the dashboards)\n"
    "for as long as the data is kept. Prompts can contain code, secrets and personal data.\n"
    "Anyone who can read the database or the dashboards can read them."
)
MANAGED_KEYS = (
    "CLAUDE_CODE_ENABLE_TELEMETRY",
    "OTEL_METRICS_EXPORTER",
    "OTEL_LOGS_EXPORTER",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_METRIC_EXPORT_INTERVAL",
    "OTEL_LOGS_EXPORT_INTERVAL",
    "OTEL_LOG_USER_PROMPTS",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_EXPORTER_OTLP_HEADERS",
)


def telemetry_env(
    endpoint: str | None = None,
    protocol: str = "grpc",
    metric_interval_ms: int | None = None,
    logs_interval_ms: int | None = None,
    log_prompts: bool | None = None,
    resource_attributes: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> dict[str, str | None]:
    """The variables to set; a None value means "remove this key" (an explicit opt-out)."""
    if protocol not in PROTOCOLS:
        raise click.BadParameter(f"protocol must be one of {', '.join(PROTOCOLS)}")
    env: dict[str, str | None] = {
        "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint or f"http://localhost:{DEFAULT_PORTS[protocol]}",
    }
    if metric_interval_ms is not None:
        env["OTEL_METRIC_EXPORT_INTERVAL"] = str(metric_interval_ms)
    if logs_interval_ms is not None:
        env["OTEL_LOGS_EXPORT_INTERVAL"] = str(logs_interval_ms)
    if log_prompts is not None:
        env["OTEL_LOG_USER_PROMPTS"] = "1" if log_prompts else None
    if resource_attributes:
        env["OTEL_RESOURCE_ATTRIBUTES"] = _pairs(resource_attributes, "resource attribute")
    if headers:
        env["OTEL_EXPORTER_OTLP_HEADERS"] = _pairs(headers, "header")
    return env


def _pairs(items: Mapping[str, str], what: str) -> str:
    for key, value in items.items():
        if not key or any(c in key + value for c in ",=") or any(c.isspace() for c in key):
            raise click.BadParameter(f"{what} {key}={value}: keys and values may not contain ',' or '='")
    return ",".join(f"{k}={v}" for k, v in items.items())


def parse_pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    pairs = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{what} must look like key=value, got {item!r}")
        pairs[key.strip()] = value.strip()
    return pairs


def merge_settings(settings: dict[str, Any], env: Mapping[str, str | None]) -> dict[str, Any]:
    """A copy of `settings` whose env block carries `env`; every other key is left as it was."""
    merged = dict(settings)
    block = dict(merged.get("env") or {})
    for key, value in env.items():
        if value is None:
            block.pop(key, None)
        else:
            block[key] = value
    merged["env"] = block
    return merged


def read_settings(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        settings = json.loads(path.read_text(encoding="utf-8") or "{}")
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{path} is not valid JSON ({exc}); fix it first, nothing changed") from None
    if not isinstance(settings, dict) or not isinstance(settings.get("env", {}), dict):
        raise click.ClickException(f"{path}: expected a JSON object with an object 'env'; nothing changed")
    return settings


def write_settings(path: Path, env: Mapping[str, str | None], now: dt.datetime | None = None) -> Path | None:
    """Merge `env` into the file. Returns the backup path, or None when nothing had to change."""
    current = read_settings(path)
    merged = merge_settings(current, env)
    if path.exists() and merged == current:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    backup = None
    if path.exists():
        stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
        backup = path.with_name(f"{path.name}.bak-{stamp}")
        shutil.copy2(path, backup)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return backup or path


def shell_lines(env: Mapping[str, str | None], shell: str) -> list[str]:
    lines = []
    for key, value in env.items():
        if shell == "fish":
            lines.append(f"set -e {key}" if value is None else f"set -gx {key} {_fish_quote(value)}")
        else:
            lines.append(f"unset {key}" if value is None else f"export {key}={_sh_quote(value)}")
    return lines


def _sh_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def _fish_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def settings_path(project: Path | None, home: Path | None = None) -> Path:
    if project is not None:
        return project / ".claude" / "settings.json"
    return (home or Path.home()) / ".claude" / "settings.json"


# ---------------------------------------------------------------- doctor


class DoctorFailure(Exception):
    """One failed check, with the sentence that tells the user what to do."""


def effective_env(process_env: Mapping[str, str], files: list[Path]) -> dict[str, str]:
    """What Claude Code will see: the process environment, overlaid by each settings file's env block."""
    env = {k: v for k, v in process_env.items() if k.startswith(("OTEL_", "CLAUDE_CODE_"))}
    for path in files:
        block = read_settings(path).get("env") or {}
        env.update({str(k): str(v) for k, v in block.items()})
    return env


def settings_files(project: Path | None, home: Path | None = None) -> list[Path]:
    """User, then project, then project-local settings: later files win, as in Claude Code."""
    files = [settings_path(None, home)]
    if project is not None:
        files += [project / ".claude" / "settings.json", project / ".claude" / "settings.local.json"]
    return [f for f in files if f.exists()]


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


def get_json(url: str, timeout: float) -> Any:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
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


def confirm_stored(app_url: str, before: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        count = event_count(get_json(f"{app_url}/stats", timeout=5))
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
    before = event_count(get_json(f"{app_url}/stats", timeout=5))
    echo(f"ok   server {app_url} is healthy ({before} events stored)")
    marker = str(uuid.uuid4())
    where = send_logs(env, test_request(marker, env.get("OTEL_RESOURCE_ATTRIBUTES", "")), timeout=10)
    echo(f"ok   test record accepted by {where}")
    after = confirm_stored(app_url, before, timeout)
    echo(f"ok   test record stored ({after} events now; event_name 'ccmonitor.doctor', session {marker})")


# ---------------------------------------------------------------- commands

_project_option = click.option(
    "--project",
    type=click.Path(file_okay=False, path_type=Path),
    is_flag=False,
    flag_value=".",
    default=None,
    help="Use <DIR>/.claude/settings.json (the current directory if no DIR) instead of ~/.claude/.",
)


@click.command("configure")
@click.option("--endpoint", help="OTLP endpoint [default: http://localhost:4317, 4318 for http/*].")
@click.option("--protocol", type=click.Choice(PROTOCOLS), default="grpc", show_default=True)
@click.option("--metric-interval", type=click.IntRange(min=100), help="OTEL_METRIC_EXPORT_INTERVAL in ms.")
@click.option("--logs-interval", type=click.IntRange(min=100), help="OTEL_LOGS_EXPORT_INTERVAL in ms.")
@click.option(
    "--log-prompts/--no-log-prompts",
    default=None,
    help="Send the full prompt text (privacy warning, asks to confirm). --no-log-prompts removes it.",
)
@click.option("--resource-attribute", "-r", multiple=True, metavar="KEY=VALUE", help="e.g. team=platform")
@click.option("--auth-token", help="Send 'Authorization: Bearer <token>' (see CCMONITOR_AUTH_TOKEN).")
@click.option("--header", multiple=True, metavar="NAME=VALUE", help="Any other OTLP header.")
@_project_option
@click.option(
    "--shell",
    type=click.Choice(["bash", "zsh", "fish"]),
    help="Print export lines instead of writing settings.",
)
@click.option("--yes", "-y", is_flag=True, help="Don't ask before enabling prompt logging (the warning still prints).")
def configure_command(
    endpoint: str | None,
    protocol: str,
    metric_interval: int | None,
    logs_interval: int | None,
    log_prompts: bool | None,
    resource_attribute: tuple[str, ...],
    auth_token: str | None,
    header: tuple[str, ...],
    project: Path | None,
    shell: str | None,
    yes: bool,
) -> None:
    """Point Claude Code's telemetry at ccmonitor (writes the env block of settings.json)."""
    headers = parse_pairs(header, "--header")
    if auth_token:
        if any(c in auth_token for c in ", ") or not auth_token.isprintable():
            raise click.BadParameter("the token may not contain spaces or commas", param_hint="--auth-token")
        headers["Authorization"] = f"Bearer {auth_token}"
    if log_prompts:
        click.echo(PRIVACY_WARNING, err=True)
        if not yes:
            click.confirm("Send and store the full text of prompts?", default=False, abort=True, err=True)
    env = telemetry_env(
        endpoint,
        protocol,
        metric_interval,
        logs_interval,
        log_prompts,
        parse_pairs(resource_attribute, "--resource-attribute"),
        headers,
    )
    if shell:
        click.echo("\n".join(shell_lines(env, shell)))
        return
    path = settings_path(project.resolve() if project else None)
    result = write_settings(path, env)
    if result is None:
        click.echo(f"{path} already has these settings; nothing changed.")
    elif result == path:
        click.echo(f"Wrote {path}.")
    else:
        click.echo(f"Updated {path} (previous version saved as {result.name}).")
    click.echo("Start a new Claude Code session to pick it up; check the path with: ccmonitor doctor")


@click.command("doctor")
@_project_option
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
