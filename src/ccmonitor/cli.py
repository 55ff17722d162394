"""The `ccmonitor` command. `serve` takes its options from config.SETTINGS, so every setting is an
option, an environment variable and documented in one place."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import signal
import sys
from typing import Any

import click

from ccmonitor import __version__
from ccmonitor.config import SETTINGS, Config
from ccmonitor.errors import ConfigError, StoreUnavailable
from ccmonitor.server import Ports, Server


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ccmonitor")
def main() -> None:
    """Self-hosted monitor for Claude Code telemetry: OTLP in, SQLite, dashboard, reports."""


def _setting_options(func: Any) -> Any:
    for s in reversed(SETTINGS):
        flag = "--" + s.name.replace("_", "-")
        if s.type is bool:
            func = click.option(f"{flag}/--no-{flag[2:]}", s.name, default=None,
                                help=f"{s.help} [env {s.env}; default {s.default}]")(func)
        else:
            ptype = str if s.name == "db" else s.type  # a file path or a URL: config.database_location
            func = click.option(flag, s.name, type=ptype, default=None,
                                help=f"{s.help} [env {s.env}; default {s.default}]")(func)
    return func


def endpoint_lines(host: str, ports: Ports, tls: bool = False) -> list[str]:
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::", "localhost") else host
    scheme = "https" if tls else "http"
    lines = [
        "CLAUDE_CODE_ENABLE_TELEMETRY=1",
        "OTEL_METRICS_EXPORTER=otlp",
        "OTEL_LOGS_EXPORTER=otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
        f"OTEL_EXPORTER_OTLP_ENDPOINT={scheme}://{shown}:{ports.grpc}",
        f"# or: OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf OTEL_EXPORTER_OTLP_ENDPOINT={scheme}://{shown}:{ports.http}",
    ]
    if tls:
        lines.append("# a certificate from a private CA: also NODE_EXTRA_CA_CERTS=/path/to/ca.pem"
                     " (ccmonitor configure --ca-file; docs/configuration.md, TLS)")
    return lines


def exposure_warning(config: Config) -> str | None:
    """One line when the ports are reachable from other machines and nothing asks for a token."""
    if config.auth_token or config.host == "localhost":
        return None
    try:
        if ipaddress.ip_address(config.host).is_loopback:
            return None
    except ValueError:
        pass  # a host name: assume it is reachable
    return (f"warning: listening on {config.host} without an auth token: the dashboard, API and OTLP ports are "
            "open to anyone on the network; set one with --auth-token or CCMONITOR_AUTH_TOKEN")


@main.command()
@click.option("--listen-all", is_flag=True, help="Listen on all interfaces (0.0.0.0) for remote monitoring.")
@_setting_options
def serve(listen_all: bool, **options: Any) -> None:
    """Receive OTLP (gRPC :4317, HTTP :4318), store in SQLite, serve the dashboard on :5000."""
    if listen_all and options.get("host") is None:
        options["host"] = "0.0.0.0"
    try:
        config = Config.load(options)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    logging.basicConfig(level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(_serve(config))
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except StoreUnavailable as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


async def _serve(config: Config) -> None:
    server = Server(config)
    ports = await server.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, server.request_stop)
    host = config.host
    warning = exposure_warning(config)
    if warning:
        click.echo(warning, err=True)
    click.echo(f"ccmonitor {__version__}")
    click.echo(f"  database   {server.store.location if server.store else config.db}")  # no password
    tls = bool(config.tls_cert)
    click.echo(f"  dashboard  {'https' if tls else 'http'}://{'127.0.0.1' if host == '0.0.0.0' else host}:{ports.app}/")
    click.echo(f"  OTLP gRPC  {host}:{ports.grpc}   OTLP HTTP {host}:{ports.http}   (also /v1/* on :{ports.app})")
    click.echo("Point Claude Code at this server:")
    for line in endpoint_lines(host, ports, tls):
        click.echo(f"  export {line}" if not line.startswith("#") else f"  {line}")
    click.echo("Ctrl+C stops (queued telemetry is committed first).", err=False)
    await server.wait()
    click.echo("stopped; everything received was committed.")


def _register() -> None:
    from ccmonitor.commands import COMMANDS
    from ccmonitor.commands.copy import copy_command
    from ccmonitor.configure import configure_command
    from ccmonitor.demo import demo_command
    from ccmonitor.doctor import doctor_command

    main.add_command(configure_command, "configure")
    main.add_command(doctor_command, "doctor")
    main.add_command(demo_command, "demo")
    main.add_command(copy_command, "copy")
    for command in COMMANDS:
        main.add_command(command)


_register()
