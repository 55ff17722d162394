"""What the terminal commands share: `--db` and the database it names, and reading times and filters.

Times given without a zone are wall time in the report's `--tz` (local by default): a date means
its local midnight, and an `--until` date includes that whole day. Any time that parses is read within
1970..9999 UTC (queries/filters.py clamps it, as the API does).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from ccmonitor.config import Config
from ccmonitor.errors import CcmonitorError, ConfigError
from ccmonitor.queries.filters import EARLIEST, clamp
from ccmonitor.store import Store, open_store

EPOCH, FAR = datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)
DURATION = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
db_option = click.option("--db", default=None, metavar="FILE|URL",
                         help="SQLite database file or postgresql:// URL [env CCMONITOR_DB; default: the one"
                              " `serve` uses]")


def duration(text: str) -> timedelta:
    """'30d', '12h', '2w', '90m' -> timedelta."""
    match = DURATION.match(text)
    if not match:
        raise click.BadParameter(f"{text!r} is not a duration like 30d, 12h, 2w or 90m")
    try:
        return timedelta(**{UNITS[match[2]]: int(match[1])})
    except OverflowError:
        raise click.BadParameter(f"{text!r} is longer than the longest duration (999999999 days)") from None


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
        try:
            return clamp((now or datetime.now(UTC)) - duration(text))
        except OverflowError:  # further back than year 1
            return EARLIEST
    try:
        day = date.fromisoformat(text)
        at = datetime(day.year, day.month, day.day)
        if end:  # the whole day; 9999-12-31 has no next day
            at = at + timedelta(days=1) if day < date.max else datetime.max
    except ValueError:
        try:
            at = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise click.BadParameter(f"{text!r} is not a date, an ISO time or a duration like 7d") from None
    return clamp(at if at.tzinfo or tz is None else at.replace(tzinfo=tz))


def database(db: str | None) -> Path | str:
    try:
        return Config.load({"db": db}).db
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def open_reader(db: str | None) -> Store:
    """The store `--db` names, read-only (no writer, no migrations); close it when done."""
    try:
        return open_store(database(db), write=False)
    except CcmonitorError as exc:
        raise click.ClickException(str(exc)) from None


def attributes(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    pairs = tuple(tuple(v.split("=", 1)) for v in values)
    if any(len(p) != 2 or not p[0] for p in pairs):
        raise click.BadParameter("use KEY=VALUE, e.g. --attr team=platform", param_hint="--attr")
    return pairs  # type: ignore[return-value]
