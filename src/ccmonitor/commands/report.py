"""`ccmonitor report <name>`: one subcommand per named report, from the local database or a server's API."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from ccmonitor import reports
from ccmonitor.commands.options import EPOCH, FAR, attributes, db_option, open_reader, when, zone
from ccmonitor.config import Config
from ccmonitor.credentials import TOKEN_ATTRIBUTE
from ccmonitor.errors import StoreBusy
from ccmonitor.queries.filters import ATTRIBUTE_KEY, Filters
from ccmonitor.queries.periods import CATALOGUE, GROUPED, REPORTS, report
from ccmonitor.queries.silence import DEFAULT_DAYS, MAX_DAYS

# "as of now" reports: their windows end at --until, so by default now, not the far future
NOW_REPORTS = {"adoption": timedelta(days=30), "silent": timedelta(days=30)}


@click.group("report")
def report_group() -> None:
    """Usage reports from the same queries as the dashboard and the JSON API."""


def _report_command(name: str) -> click.Command:
    @click.command(name, help=CATALOGUE[name].help)
    @db_option
    @click.option("--server", metavar="URL", help="Read a running server's API (e.g. http://team-host:5000).")
    @click.option("--since", help="Start: a date (2026-11-01), an ISO time, or a duration ago (7d). Default: all.")
    @click.option("--until", help="End (a date includes that whole day). Default: now.")
    @click.option("--tz", "tz_name", default="local", show_default=True, help="Time zone of days and dates.")
    @click.option("--breakdown", is_flag=True, help="One row per model within each row (daily/weekly/monthly/users).")
    @click.option("--user", "users", multiple=True, help="Only this user (email, account uuid or user id).")
    @click.option("--model", "models", multiple=True, help="Only this model (repeatable).")
    @click.option("--attr", "attrs", multiple=True, metavar="KEY=VALUE", help="Custom attribute, e.g. team=platform.")
    @click.option("--token", "tokens", multiple=True, metavar="NAME",
                  help=f"Only what this token (machine) sent: --attr {TOKEN_ATTRIBUTE}=NAME.")
    @click.option("--by", metavar="KEY", help=f"One row per group of this custom attribute ({', '.join(GROUPED)}).")
    @click.option("--days", type=click.IntRange(1, MAX_DAYS), default=DEFAULT_DAYS, show_default=True,
                  help="silent: silent for at least this many days.")
    @click.option("--json", "fmt", flag_value="json", help="Print the JSON document.")
    @click.option("--csv", "fmt", flag_value="csv", help="Print the rows as CSV.")
    def command(db: str | None, server: str | None, since: str | None, until: str | None, tz_name: str,
                breakdown: bool, users: tuple[str, ...], models: tuple[str, ...], attrs: tuple[str, ...],
                tokens: tuple[str, ...], by: str | None, days: int, fmt: str | None) -> None:
        if breakdown and name not in ("daily", "weekly", "monthly", "users"):
            raise click.UsageError(f"--breakdown applies to daily, weekly, monthly and users, not {name}")
        if by is not None and (name not in GROUPED or breakdown or not ATTRIBUTE_KEY.match(by)):
            raise click.UsageError(f"--by KEY applies to {', '.join(GROUPED)}, without --breakdown")
        tz = zone(tz_name)
        end = when(until, tz, end=True) or (datetime.now(UTC) if name in NOW_REPORTS else FAR)
        start = when(since, tz) or (end - NOW_REPORTS[name] if name in NOW_REPORTS else EPOCH)
        f = Filters(since=start, until=end, users=users, models=models,
                    attributes=attributes(attrs) + tuple((TOKEN_ATTRIBUTE, t) for t in tokens))
        if server:
            doc = fetch_report(server, name, f, tz_name, breakdown, by, days)
        else:
            store = open_reader(db)
            try:
                doc = store.read(lambda conn: report(conn, name, f, tz, breakdown, by, days))
            except StoreBusy as exc:
                raise click.ClickException(str(exc)) from None
            finally:
                store.close()
        reports.render(doc, fmt or "table", sys.stdout)

    return command


for _name in REPORTS:
    report_group.add_command(_report_command(_name))


def report_url(server: str, name: str, f: Filters, tz_name: str, breakdown: bool, by: str | None = None,
               days: int = DEFAULT_DAYS) -> str:
    """GET /api/reports/{name}: the same document, computed by the server (web/api.py)."""
    query: list[tuple[str, str]] = [("range", "custom"), ("from", f.since.isoformat()), ("to", f.until.isoformat()),
                                    ("tz", tz_name)]
    query += [("breakdown", "1")] if breakdown else []
    query += [("by", by)] if by else []
    query += [("days", str(days))] if name == "silent" else []
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


def fetch_report(server: str, name: str, f: Filters, tz_name: str, breakdown: bool, by: str | None = None,
                 days: int = DEFAULT_DAYS) -> dict[str, Any]:
    if tz_name == "local":  # the server's "local" is not ours: send our zone's name
        tz_name = local_zone_name()
    url = report_url(server, name, f, tz_name, breakdown, by, days)
    token = Config.load().auth_token  # a server started with --auth-token wants it on /api too
    request = urllib.request.Request(url, headers={"authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
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
