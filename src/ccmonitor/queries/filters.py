"""The filters every panel, API call and report takes, turned into one safe WHERE clause.

Values are always bound parameters; custom attribute keys are validated and passed as a bound JSON
path, so nothing a user types reaches the SQL text. Times are UTC text in the stored form, so range
conditions use the `timestamp` indexes. A range is clamped to [EARLIEST, LATEST]: any time a user
can type then has a UTC form every query, chart axis and report can compute with (issue 9).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ccmonitor.store.dialect import Dialect
from ccmonitor.telemetry import utc_text

ATTRIBUTE_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")
# A user is whatever identity the data has: email (OAuth), account uuid, or the hashed user.id.
USER_EXPR = "COALESCE({p}user_email, {p}account_uuid, {p}user_id)"
# Nothing ingest stores is older (OTLP times are unsigned nanoseconds since 1970), and the last whole
# second Python can hold (a float timestamp of a later instant rounds into year 10000); rows typed in
# by hand outside these are outside every range.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def clamp(dt: datetime) -> datetime:
    """An aware time (naive: this machine's local time) in UTC within [EARLIEST, LATEST]. A time that
    leaves the years 1..9999 on its way to UTC (0001-01-01T00:00+09:00) is the nearer end."""
    try:
        utc = dt.astimezone(UTC)
    except (OverflowError, ValueError, OSError):
        return EARLIEST if dt.year < 5000 else LATEST
    return min(max(utc, EARLIEST), LATEST)


@dataclass(frozen=True)
class Filters:
    since: datetime
    until: datetime
    users: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    terminals: tuple[str, ...] = ()
    sessions: tuple[str, ...] = ()
    attributes: tuple[tuple[str, str], ...] = field(default=())  # e.g. (("team", "platform"),)

    @classmethod
    def last(cls, delta: timedelta, now: datetime | None = None, **kw: object) -> Filters:
        now = now or datetime.now(UTC)
        return cls(since=now - delta, until=now, **kw)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        for name in ("since", "until"):  # naive means UTC here, as in utc_text
            dt = getattr(self, name)
            object.__setattr__(self, name, clamp(dt if dt.tzinfo else dt.replace(tzinfo=UTC)))
        for key, _ in self.attributes:
            if not ATTRIBUTE_KEY.match(key):
                raise ValueError(f"invalid attribute name {key!r}")

    def where(self, sql: Dialect, alias: str = "", *, model: bool = True,
              terminal: bool = True) -> tuple[str, list[object]]:
        """SQL condition (without WHERE) and its parameters, for metrics, events (or spans with
        model/terminal off). `alias` is a table alias like 'e'."""
        p = f"{alias}." if alias else ""
        clauses = [f"{p}timestamp >= ?", f"{p}timestamp < ?"]
        params: list[object] = [utc_text(self.since), utc_text(self.until)]

        def one_of(expr: str, values: tuple[str, ...]) -> None:
            if values:
                clauses.append(f"{expr} IN ({', '.join('?' * len(values))})")
                params.extend(values)

        if self.users:
            one_of(USER_EXPR.format(p=p), self.users)
        if model:
            one_of(f"{p}model", self.models)
        if terminal:
            one_of(f"{p}terminal_type", self.terminals)
        one_of(f"{p}session_id", self.sessions)
        if self.attributes:  # the row's own set; rows stored before it existed: their session's
            sets, set_params = self.attribute_sets(sql)
            # a lookup per row, not `session_id IN (the team's sessions)`: that list is built anew per
            # statement and lures the planner into probing the session index once per session
            clauses.append(f"{sql.set_of(p)} IN ({sets})")
            params.extend(set_params)
        return " AND ".join(clauses), params

    def attribute_sets(self, sql: Dialect) -> tuple[str, list[object]]:
        """A query for the ids of the attribute sets (store/attribute_sets.py) the attribute filters
        select: values of one key are alternatives, keys all apply."""
        by_key: dict[str, list[str]] = {}
        for key, value in self.attributes:
            by_key.setdefault(key, []).append(value)
        clauses: list[str] = []
        params: list[object] = []
        for key, values in by_key.items():
            clauses.append(f"{sql.json_member('attributes')} IN ({', '.join('?' * len(values))})")
            params.extend([sql.json_key(key), *values])
        return f"SELECT id FROM attribute_sets WHERE {' AND '.join(clauses) or '1 = 1'}", params
