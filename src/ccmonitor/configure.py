"""`ccmonitor configure`: point Claude Code at the monitor (`ccmonitor doctor`, in doctor.py, proves it works).

configure writes Claude Code's telemetry variables into the `env` block of its settings.json (user
level `~/.claude/settings.json`, or `<project>/.claude/settings.json`), merged into what is there: other
keys are never touched, the old file is kept as `settings.json.bak-<time>` before any change, and a
second run with the same options changes nothing (claude_settings.py). `--shell` prints export lines instead.

The auth header is written as `Authorization=Bearer <token>` with a literal space, not `%20`: Claude
Code percent-decodes OTEL_EXPORTER_OTLP_HEADERS over gRPC but sends it verbatim over HTTP
(shared/claude-code/TELEMETRY.md section 2), and a plain space reads the same on both.

`--ca-file` (a server whose certificate comes from a private CA) is written as NODE_EXTRA_CA_CERTS:
client 2.1.332 honours it from the env block for both transports, while it reads
OTEL_EXPORTER_OTLP_CERTIFICATE over gRPC only (tests/test_tls.py runs the real client both ways).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import click

from ccmonitor.claude_settings import DEFAULT_PORTS, PROTOCOLS, project_option, settings_path, write_settings

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
    "NODE_EXTRA_CA_CERTS",
)


def telemetry_env(
    endpoint: str | None = None,
    protocol: str = "grpc",
    metric_interval_ms: int | None = None,
    logs_interval_ms: int | None = None,
    log_prompts: bool | None = None,
    resource_attributes: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    ca_file: Path | None = None,
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
    if ca_file is not None:
        if not (endpoint or "").startswith("https://"):
            raise click.BadParameter("a CA is for an https:// --endpoint", param_hint="--ca-file")
        env["NODE_EXTRA_CA_CERTS"] = str(ca_file.expanduser().resolve())
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
@click.option("--token", "--auth-token", "auth_token",
              help="Send 'Authorization: Bearer <token>': this machine's token (ccmonitor token create) or the"
                   " server's CCMONITOR_AUTH_TOKEN.")
@click.option("--header", multiple=True, metavar="NAME=VALUE", help="Any other OTLP header.")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="PEM of the private CA that signed an https endpoint's certificate (NODE_EXTRA_CA_CERTS).")
@project_option
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
    ca_file: Path | None,
    project: Path | None,
    shell: str | None,
    yes: bool,
) -> None:
    """Point Claude Code's telemetry at ccmonitor (writes the env block of settings.json)."""
    headers = parse_pairs(header, "--header")
    if auth_token:
        if any(c in auth_token for c in ", ") or not auth_token.isprintable():
            raise click.BadParameter("the token may not contain spaces or commas", param_hint="--token")
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
        ca_file,
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
