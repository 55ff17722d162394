"""The terminal commands of issue 5: `report`, `prune`, `export`, `stats` (cli.py registers COMMANDS).

Every command reads the same database `serve` writes (`--db`, default from Config / CCMONITOR_DB), or
for `report --server URL` a running server's API, which answers from the same query functions.
Times given without a zone are wall time in the report's `--tz` (local by default): a date means
its local midnight, and an `--until` date includes that whole day.
"""

from __future__ import annotations

import json
import re
import sqlite3
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ccmonitor import __version__, export, reports, retention
from ccmonitor.config import Config
from ccmonitor.errors import ConfigError
from ccmonitor.queries import reader
from ccmonitor.queries.filters import Filters
from ccmonitor.queries.periods import REPORTS, report
from ccmonitor.queries.status import database_stats
from ccmonitor.store.sqlite import connect

EPOCH, FAR = datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)
DURATION = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
HELP = {
    "daily": "Usage per local day.", "weekly": "Usage per week (Monday to Sunday, local).",
    "monthly": "Usage per local month.", "sessions": "Usage per Claude Code session, newest first.",
    "models": "Usage per model, with API latency and cache-hit ratio.", "users": "Usage per user.",
    "tools": "Tool calls, success rate, median duration, accept/reject decisions.",
}
db_option = click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None,
                         help="SQLite database file [env CCMONITOR_DB; default: the one `serve` uses]")


def duration(text: str) -> timedelta:
    """'30d', '12h', '2w', '90m' -> timedelta."""
    match = DURATION.match(text)
    if not match:
        raise click.BadParameter(f"{text!r} is not a duration like 30d, 12h, 2w or 90m")
    return timedelta(**{UNITS[match[2]]: int(match[1])})


def zone(name: str) -> tzinfo | None:
    if name == "local":
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"unknown time zone {name!r} (use an IANA name like Europe/Berlin)") from None


def when(text: str | None, tz: tzinfo | None, *, end: bool = False, now: datetime | None = None) -> datetime | None:
    """A --since/--until value: a duration ago (7d), a date (2026-11-27 or 20261127) or an ISO time."""
    if text is None:
        return None
    if DURATION.match(text):
        return (now or datetime.now(UTC)) - duration(text)
    try:
        day = date.fromisoformat(text)
        at = datetime(day.year, day.month, day.day) + (timedelta(days=1) if end else timedelta())
    except ValueError:
        try:
            at = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise click.BadParameter(f"{text!r} is not a date, an ISO time or a duration like 7d") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=tz) if tz is not None else at.astimezone()
    return at.astimezone(UTC)


def database(db: Path | None) -> Path:
    try:
        return Config.load({"db": db}).db
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def open_reader(db: Path | None) -> tuple[Path, sqlite3.Connection]:
    path = database(db)
    if not path.exists():
        raise click.ClickException(f"no database at {path}; run `ccmonitor serve` first or pass --db")
    return path, reader(path)


def attributes(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    pairs = tuple(tuple(v.split("=", 1)) for v in values)
    if any(len(p) != 2 or not p[0] for p in pairs):
        raise click.BadParameter("use KEY=VALUE, e.g. --attr team=platform", param_hint="--attr")
    return pairs  # type: ignore[return-value]


# ------------------------------------------------------------------ report
@click.group("report")
def report_group() -> None:
    """Usage reports from the same queries as the dashboard and the JSON API."""


def _report_command(name: str) -> click.Command:
    @click.command(name, help=HELP[name])
    @db_option
    @click.option("--server", metavar="URL", help="Read a running server's API (e.g. http://team-host:5000).")
    @click.option("--since", help="Start: a date (2026-11-01), an ISO time, or a duration ago (7d). Default: all.")
    @click.option("--until", help="End (a date includes that whole day). Default: now.")
    @click.option("--tz", "tz_name", default="local", show_default=True, help="Time zone of days and dates.")
    @click.option("--breakdown", is_flag=True, help="One row per model within each row (daily/weekly/monthly/users).")
    @click.option("--user", "users", multiple=True, help="Only this user (email, account uuid or user id).")
    @click.option("--model", "models", multiple=True, help="Only this model (repeatable).")
    @click.option("--attr", "attrs", multiple=True, metavar="KEY=VALUE", help="Custom attribute, e.g. team=platform.")
    @click.option("--json", "fmt", flag_value="json", help="Print the JSON document.")
    @click.option("--csv", "fmt", flag_value="csv", help="Print the rows as CSV.")
    def command(db: Path | None, server: str | None, since: str | None, until: str | None, tz_name: str,
                breakdown: bool, users: tuple[str, ...], models: tuple[str, ...], attrs: tuple[str, ...],
                fmt: str | None) -> None:
        if breakdown and name in ("sessions", "models", "tools"):
            raise click.UsageError(f"--breakdown applies to daily, weekly, monthly and users, not {name}")
        tz = zone(tz_name)
        f = Filters(since=when(since, tz) or EPOCH, until=when(until, tz, end=True) or FAR, users=users,
                    models=models, attributes=attributes(attrs))
        if server:
            doc = fetch_report(server, name, f, tz_name, breakdown)
        else:
            _, conn = open_reader(db)
            try:
                doc = report(conn, name, f, tz, breakdown)
            finally:
                conn.close()
        reports.render(doc, fmt or "table", sys.stdout)

    return command


for _name in REPORTS:
    report_group.add_command(_report_command(_name))


def report_url(server: str, name: str, f: Filters, tz_name: str, breakdown: bool) -> str:
    """GET /api/reports/{name}: the same document, computed by the server (web/api.py)."""
    query: list[tuple[str, str]] = [("range", "custom"), ("from", f.since.isoformat()), ("to", f.until.isoformat()),
                                    ("tz", tz_name)]
    query += [("breakdown", "1")] if breakdown else []
    query += [("user", u) for u in f.users] + [("model", m) for m in f.models]
    query += [(f"attr.{k}", v) for k, v in f.attributes]
    return f"{server.rstrip('/')}/api/reports/{name}?{urllib.parse.urlencode(query)}"


def local_zone_name() -> str:
    """The IANA name of this machine's zone, if /etc/localtime names one that matches local time."""
    try:
        key = str(Path("/etc/localtime").resolve()).split("zoneinfo/", 1)[1]
        now = datetime.now(UTC)
        if now.astimezone(ZoneInfo(key)).utcoffset() == now.astimezone().utcoffset():
            return key
    except (IndexError, OSError, ZoneInfoNotFoundError, ValueError):
        pass
    raise click.UsageError("cannot tell this machine's time zone name; pass --tz (e.g. Europe/Berlin) with --server")


def fetch_report(server: str, name: str, f: Filters, tz_name: str, breakdown: bool) -> dict[str, Any]:
    if tz_name == "local":  # the server's "local" is not ours: send our zone's name
        tz_name = local_zone_name()
    url = report_url(server, name, f, tz_name, breakdown)
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read())["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = exc.reason
        hint = " (that server has no /api/reports: it needs a newer ccmonitor)" if exc.code == 404 else ""
        raise click.ClickException(f"{server} answered {exc.code}: {message}{hint}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise click.ClickException(f"cannot read {url}: {getattr(exc, 'reason', exc)}") from None


# ------------------------------------------------------------------ stats
@click.command("stats")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the body /stats serves, from the file).")
def stats_command(db: Path | None, as_json: bool) -> None:
    """Rows, newest timestamps and size of the database file (what /stats says)."""
    path, conn = open_reader(db)
    try:
        body = {**database_stats(conn, path), "version": __version__}
    finally:
        conn.close()
    reports.render_mapping(f"ccmonitor database {path}", body, "json" if as_json else "table", sys.stdout)


# ------------------------------------------------------------------ export
@click.command("export")
@db_option
@click.option("--table", "table", type=click.Choice(export.TABLES), required=True, help="Table to export.")
@click.option("--format", "fmt", type=click.Choice(export.FORMATS), default="csv", show_default=True)
@click.option("--since", help="Only rows from: a date, an ISO time (local unless it has a zone), or 7d.")
@click.option("--until", help="Only rows before: a date (included), an ISO time, or a duration ago.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), default="-",
              show_default=True, help="File to write; - is standard output.")
def export_command(db: Path | None, table: str, fmt: str, since: str | None, until: str | None,
                   output: str) -> None:
    """Stream one table as CSV or JSON Lines, in constant memory (values exactly as stored)."""
    start, end = when(since, None), when(until, None, end=True)
    _, conn = open_reader(db)
    try:
        if output == "-":
            n = export.write(conn, table, fmt, sys.stdout, start, end)
        else:
            with open(output, "w", encoding="utf-8", newline="") as out:
                n = export.write(conn, table, fmt, out, start, end)
    finally:
        conn.close()
    if output != "-":
        click.echo(f"exported {n} {table} rows to {output}", err=True)


# ------------------------------------------------------------------ prune
@click.command("prune")
@db_option
@click.option("--older-than", "older_than", metavar="AGE", help="Delete telemetry older than AGE (e.g. 30d).")
@click.option("--prompts-older-than", "prompts_older_than", metavar="AGE",
              help="Blank prompt text older than AGE, keeping the events (e.g. 7d).")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted or blanked.")
def prune_command(db: Path | None, older_than: str | None, prompts_older_than: str | None, dry_run: bool) -> None:
    """Delete old telemetry in small batches, then give the space back; safe while `serve` runs."""
    if older_than is None and prompts_older_than is None:
        raise click.UsageError("give --older-than AGE and/or --prompts-older-than AGE")
    now = datetime.now(UTC)
    before = retention.cutoff(duration(older_than), now) if older_than else None
    prompts = retention.cutoff(duration(prompts_older_than), now) if prompts_older_than else None
    path = database(db)
    if not path.exists():
        raise click.ClickException(f"no database at {path}")
    conn = connect(path)
    try:
        counts = retention.count(conn, before, prompts)
        if dry_run:
            reports.render_mapping("would prune", counts, "table", sys.stdout)
            return
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=reports.console(sys.stderr), transient=False) as bar:
            task = bar.add_task("pruning", total=sum(counts.values()) or 1)
            done: dict[str, int] = {}
            if before:
                done.update(retention.prune(conn, before, progress=lambda _, n: bar.advance(task, n)))
            if prompts:
                done["prompts"] = retention.blank_prompts(conn, prompts, before or "",
                                                          progress=lambda _, n: bar.advance(task, n))
            bar.update(task, description="vacuuming")
            done["pages_freed"] = retention.vacuum(conn)
            bar.update(task, description="done", completed=sum(counts.values()) or 1)
    finally:
        conn.close()
    reports.render_mapping("prune", done, "table", sys.stdout)


COMMANDS: list[click.Command] = [report_group, prune_command, export_command, stats_command]
