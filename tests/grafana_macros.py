"""Grafana's expansion of a panel's SQL, as the two datasources do it, so tests run the very text Grafana
would send to the database.

1. The frontend (templateSrv.replace): dashboard variables with their format - `${user:sqlstring}`:
   each value in single quotes, `'` doubled and `"` escaped as `\\"` (Grafana's sqlStringFormatter); a
   custom "All" value is inserted as it is; the built-ins `$__from`/`$__to` (epoch ms),
   `$__interval_ms` and `$__interval` (the largest whole unit: 7d, 6h, 10m, as secondsToHms writes it).
2. The datasource's backend:
   * frser-sqlite-datasource (pkg/plugin/variables.go, macros.go): `$__from`/`$__to` again (for
     alerting), then macros matched by `\\$__(\\w+)\\(([^)]*)\\)`: `$__unixEpochGroupSeconds(col, n)` ->
     `cast((col / n) as int) * n`, n must parse as an integer; `$__timeFilter(col)` on epoch seconds.
   * grafana-postgresql-datasource (pkg/tsdb/grafana-postgresql-datasource/sqleng/sql_engine.go,
     macros.go): `$__interval_ms`, `$__interval`, `$__unixEpochFrom()`, `$__unixEpochTo()`, then every
     match of `\\$(\\w+)\\(([^)]*)\\)`: `$__timeFilter(col)` -> `col BETWEEN '<from>' AND '<to>'` in RFC 3339
     (UTC, fraction without trailing zeros), `$__timeFrom()`/`$__timeTo()` those quoted,
     `$__timeGroup(col, interval)` -> `floor(extract(epoch from col)/N)*N` with N the interval's seconds
     as Go's %v prints a float, `$__timeGroupAlias` the same `AS "time"`; any other `$name(...)` is an
     error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal

ALL = "$__all"
# templateSrv's variable syntax: $name | [[name:format]] | ${name.field:format}
VARIABLE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\${(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?}")
SQLITE_MACRO = re.compile(r"\$__([_a-zA-Z0-9]+)\(([^\)]*)\)")
POSTGRES_MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^\)]*)\)")
UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class MacroError(ValueError):
    """What Grafana answers with an error instead of running the query."""


def sqlstring(values: Sequence[str]) -> str:
    return ",".join("'" + v.replace("'", "''").replace('"', '\\"') + "'" for v in values)


def seconds_to_hms(seconds: float) -> str:
    """Grafana's rangeutil.secondsToHms: the count of the largest unit that is not zero, truncated."""
    parts = (seconds // 31536000, seconds % 31536000 // 86400, seconds % 31536000 % 86400 // 3600,
             seconds % 31536000 % 3600 // 60, seconds % 31536000 % 60 // 1, seconds * 1000 // 1)
    for count, unit in zip(parts, ("y", "d", "h", "m", "s", "ms"), strict=True):
        if count:
            return f"{int(count)}{unit}"
    return "less than a millisecond"


# rangeutil.roundInterval: (below this many ms, round to this many ms)
ROUNDED = ((10, 1), (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1500, 1000), (3500, 2000),
           (7500, 5000), (12500, 10000), (17500, 15000), (25000, 20000), (45000, 30000), (90000, 60000),
           (210000, 120000), (450000, 300000), (750000, 600000), (1050000, 900000), (1500000, 1200000),
           (2700000, 1800000), (5400000, 3600000), (9000000, 7200000), (16200000, 10800000),
           (32400000, 21600000), (86400000, 43200000), (604800000, 86400000), (1814400000, 604800000),
           (3628800000, 2592000000))


def interval_ms(span_ms: float, max_data_points: int, min_interval_ms: int) -> int:
    """The $__interval_ms Grafana gives a panel (rangeutil.calculateInterval): the range over the
    panel's data points, rounded to a "nice" interval, at least the panel's minimum interval."""
    raw = span_ms / max_data_points
    rounded = next((to for below, to in ROUNDED if raw < below), 31536000000)
    return max(rounded, min_interval_ms)


def frontend(sql: str, variables: Mapping[str, Mapping[str, object]], selected: Mapping[str, Sequence[str]],
             from_ms: int, to_ms: int, interval_ms: int) -> str:
    builtins = {"__from": str(from_ms), "__to": str(to_ms), "__interval_ms": str(interval_ms),
                "__interval": seconds_to_hms(interval_ms / 1000)}

    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        fmt = match.group(3) or match.group(6)
        if name in builtins:
            return builtins[name]
        if name not in variables:
            return match.group(0)  # not a variable (a macro): left for the backend
        values = list(selected.get(name, [ALL]))
        if values == [ALL]:
            return str(variables[name]["allValue"])  # a custom all value skips formatting
        if fmt != "sqlstring":
            raise AssertionError(f"${name} must be formatted with :sqlstring")
        return sqlstring(values)

    return VARIABLE.sub(one, sql)


def sqlite_backend(sql: str, from_ms: int, to_ms: int) -> str:
    sql = sql.replace("$__from", str(from_ms // 1000 * 1000)).replace("$__to", str(to_ms // 1000 * 1000))

    def macro(match: re.Match[str]) -> str:
        name, args = match.group(1), match.group(2).split(",")
        if name == "unixEpochGroupSeconds":
            if len(args) != 2:
                raise MacroError("gap filling is not used")
            try:
                interval = int(args[1].strip())  # Go's strconv.Atoi
            except ValueError:
                raise MacroError(f"could not convert {args[1]!r} to an integer grouping interval") from None
            return f"cast(({args[0]} / {interval}) as int) * {interval}"
        if name == "timeFilter":
            return (f"CAST(CASE WHEN typeof({args[0]}) = 'integer' THEN {args[0]} ELSE strftime(\"%s\", {args[0]})"
                    f" END AS INTEGER) BETWEEN {from_ms // 1000} AND {to_ms // 1000}")
        return match.group(0)

    return SQLITE_MACRO.sub(macro, sql)


def rfc3339_nano(ms: int) -> str:
    """Go's time.RFC3339Nano of a UTC time: no fraction when whole, else without trailing zeros."""
    at = datetime.fromtimestamp(ms / 1000, UTC)
    fraction = f"{ms % 1000:03d}".rstrip("0")
    return at.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def go_float(value: float) -> str:
    """fmt.Sprintf("%v", float64): strconv's 'g' with the shortest digits, which uses the exponent form
    when the exponent is < -4 or >= 6 (21600 -> "21600", 2592000 -> "2.592e+06")."""
    digits = Decimal(repr(value)).normalize()
    exponent = digits.adjusted()
    if exponent < -4 or exponent >= 6:
        mantissa = f"{digits.scaleb(-exponent):f}"
        return f"{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent):02d}"
    return f"{digits:f}"


def parse_interval(text: str) -> float:
    """gtime.ParseInterval for the units Grafana writes (no months or years)."""
    match = re.fullmatch(r"(\d+)(ms|s|m|h|d|w)", text.strip().strip("'"))
    if not match:
        raise MacroError(f"error parsing interval {text}")
    return int(match.group(1)) * UNITS[match.group(2)]


def postgres_backend(sql: str, from_ms: int, to_ms: int, interval_ms: int) -> str:
    sql = (sql.replace("$__interval_ms", str(interval_ms)).replace("$__interval", seconds_to_hms(interval_ms / 1000))
           .replace("$__unixEpochFrom()", str(from_ms // 1000)).replace("$__unixEpochTo()", str(to_ms // 1000)))
    start, end = rfc3339_nano(from_ms), rfc3339_nano(to_ms)

    def macro(match: re.Match[str]) -> str:
        name, args = match.group(1), [a.strip(" ") for a in match.group(2).split(",")]
        if name == "__timeGroup" and sql[match.end():match.end() + 1] == ",":
            name = "__timeGroupAlias"  # pre-5.3 compatibility, as Grafana decides it
        if name == "__timeFilter":
            return f"{args[0]} BETWEEN '{start}' AND '{end}'"
        if name == "__timeFrom":
            return f"'{start}'"
        if name == "__timeTo":
            return f"'{end}'"
        if name in ("__timeGroup", "__timeGroupAlias"):
            if len(args) != 2:
                raise MacroError("fill modes are not used")
            n = go_float(parse_interval(args[1]))
            return f"floor(extract(epoch from {args[0]})/{n})*{n}" + (' AS "time"' if name.endswith("Alias") else "")
        raise MacroError(f"unknown macro {name!r}")

    return POSTGRES_MACRO.sub(macro, sql)


def expand(datasource: str, sql: str, variables: Mapping[str, Mapping[str, object]], from_ms: int, to_ms: int,
           selected: Mapping[str, Sequence[str]] | None = None, interval_ms: int = 60_000) -> str:
    text = frontend(sql, variables, selected or {}, from_ms, to_ms, interval_ms)
    if datasource == "sqlite":
        return sqlite_backend(text, from_ms, to_ms)
    return postgres_backend(text, from_ms, to_ms, interval_ms)
