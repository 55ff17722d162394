"""Query string -> Filters, the same for every page and API call, so a URL is a shareable view.

    range=1h|24h|7d|30d (default 24h) or range=custom&from=<ISO 8601>&to=<ISO 8601>
    user=<email, account uuid or user id>  model=<model>  terminal=<type>  session=<id>  (repeatable)
    attr.<key>=<value>   a custom resource attribute, e.g. attr.team=platform (repeatable)
    token=<name>         what one token sent: shorthand for attr.ccmonitor.token=<name> (repeatable)
    by=<key>             group the team views by a custom attribute (team, department, ccmonitor.token)
    days                 who stopped reporting: silent for this many days (default 7)
    limit, offset        paging of lists
    tz                   IANA zone of a report's days, weeks and months (default UTC)

A time without a zone is UTC; any time that parses is read within 1970..9999 UTC (queries/filters.py
clamps it), so year 1 or 9999 in any zone answers. Anything invalid is an InputError naming the
parameter (400).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.datastructures import QueryParams

from ccmonitor.credentials import TOKEN_ATTRIBUTE
from ccmonitor.errors import InputError
from ccmonitor.queries.filters import ATTRIBUTE_KEY, Filters
from ccmonitor.queries.silence import DEFAULT_DAYS, MAX_DAYS

RANGES = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7),
          "30d": timedelta(days=30)}
DEFAULT_RANGE = "24h"
MAX_VALUES = 50
MAX_LIMIT = 500


def parse_time(name: str, raw: str | None) -> datetime:
    if not raw:
        raise InputError(f"{name} is required with range=custom")
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise InputError(f"{name}={raw!r} is not an ISO 8601 time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def time_range(q: QueryParams, now: datetime | None = None) -> tuple[datetime, datetime]:
    name = q.get("range") or DEFAULT_RANGE
    if name == "custom":
        since, until = parse_time("from", q.get("from")), parse_time("to", q.get("to"))
        if until <= since:
            raise InputError("to must be later than from")
        return since, until
    if name not in RANGES:
        raise InputError(f"range must be one of {', '.join([*RANGES, 'custom'])}; got {name!r}")
    now = now or datetime.now(UTC)
    return now - RANGES[name], now


def _values(q: QueryParams, name: str) -> tuple[str, ...]:
    values = tuple(dict.fromkeys(v for v in q.getlist(name) if v))
    if len(values) > MAX_VALUES:
        raise InputError(f"at most {MAX_VALUES} values of {name}")
    return values


def filters(q: QueryParams, now: datetime | None = None) -> Filters:
    since, until = time_range(q, now)
    attributes = []
    for key, value in q.multi_items():
        if key.startswith("attr."):
            name = key[len("attr."):]
            if not ATTRIBUTE_KEY.match(name):
                raise InputError(f"invalid attribute name {name!r}")
            if value:
                attributes.append((name, value))
    attributes += [(TOKEN_ATTRIBUTE, value) for value in _values(q, "token")]
    if len(attributes) > MAX_VALUES:
        raise InputError(f"at most {MAX_VALUES} attribute filters")
    return Filters(since=since, until=until, users=_values(q, "user"), models=_values(q, "model"),
                   terminals=_values(q, "terminal"), sessions=_values(q, "session"),
                   attributes=tuple(attributes))


def group_key(q: QueryParams) -> str | None:
    """`by`: the custom attribute the team views group by (none: per user only)."""
    key = q.get("by") or None
    if key is not None and not ATTRIBUTE_KEY.match(key):
        raise InputError(f"by={key!r} is not an attribute name (letters, digits, '_', '.', '-')")
    return key


def days(q: QueryParams) -> int:
    """`days`: who stopped reporting is silent for at least this many days."""
    n = integer(q, "days", DEFAULT_DAYS, MAX_DAYS)
    if n < 1:
        raise InputError(f"days must be an integer from 1 to {MAX_DAYS}")
    return n


def zone(q: QueryParams) -> ZoneInfo:
    """`tz`: an IANA zone name for reports' days, weeks and months (default UTC)."""
    name = q.get("tz") or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"tz={name!r} is not an IANA time zone name (e.g. Europe/Berlin, UTC)") from None


def integer(q: QueryParams, name: str, default: int, maximum: int = MAX_LIMIT) -> int:
    raw = q.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) > maximum:
        raise InputError(f"{name} must be an integer from 0 to {maximum}")
    return int(raw)
