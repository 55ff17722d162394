"""The SQL of the Grafana panels, written once for two datasources: frser-sqlite-datasource on the SQLite
file and Grafana's built-in PostgreSQL datasource. Each datasource class holds what differs (how the time
picker reaches the SQL, hours and days, JSON, a row's attribute set); the builders below use them.

The rule is the built-in dashboard's (src/ccmonitor/queries/rollups.py, percentiles.py):
  * a sum or count reads the hourly rollups for the whole hours of the range and raw rows for the
    partial hours at its edges, so it is exact and reads at most two hours of rows;
  * a user or session filter sends the whole range to raw rows (the rollups have no session column, and
    only rollup_metrics_users has a user; the rows have an index on each); so does a range without a
    whole hour in it, and a chart bucket that is not a multiple of an hour;
  * the team variable means the built-in `attr.team` filter: the attribute sets whose `team` is one of
    the chosen values (store/attribute_sets.py); rollups then come from their `_sets` twins;
  * exact percentiles (p50/p95 latency, median tool duration) in two steps: count durations per bucket
    (whole UTC days from `rollup_durations`, edges from rows), then read only the bucket that holds the
    wanted rank from its index.
Which of these branches runs is decided by constant conditions on the variables and the range, which
both databases evaluate once, before reading a row; the other branches read nothing.

Both ends of the range are included, as Grafana's `$__timeFilter` includes them (the built-in API's
range excludes its end: the two differ only for a record stamped at the very millisecond of the end).
Variables are always used as `${name:sqlstring}` (each value quoted, quotes doubled); "All" is the
custom all value '__all', tested with `'__all' IN (...)`.
"""

from __future__ import annotations

from dataclasses import dataclass

USER = "COALESCE(user_email, account_uuid, user_id)"
API_REQUEST = "claude_code.api_request"
TOOL_RESULT = "claude_code.tool_result"
DURATION_KEY = {API_REQUEST: "model", TOOL_RESULT: "tool_name"}  # what each event's durations are grouped by


def var(name: str) -> str:
    return "${" + name + ":sqlstring}"


def every(name: str) -> str:
    """True when the variable is "All"."""
    return f"'__all' IN ({var(name)})"


def some(name: str) -> str:
    return f"'__all' NOT IN ({var(name)})"


def one_of(name: str, expr: str) -> str:
    return f"({every(name)} OR {expr} IN ({var(name)}))"


def quoted(names: tuple[str, ...]) -> str:
    return ", ".join(f"'{n}'" for n in names)


class Sqlite:
    """frser-sqlite-datasource: Grafana replaces $__from/$__to (epoch ms) and the plugin expands
    $__unixEpochGroupSeconds(expr, n); stored times are UTC text ('2026-11-27 16:19:15.273')."""
    name = "sqlite"
    folds_constants = False  # '__all' IN ('__all') OR x is evaluated per row, and hides x's index
    since = "strftime('%Y-%m-%d %H:%M:%f', $__from / 1000.0, 'unixepoch')"
    until = "strftime('%Y-%m-%d %H:%M:%f', $__to / 1000.0, 'unixepoch')"
    since_hour = "strftime('%Y-%m-%d %H:00:00.000', $__from / 1000, 'unixepoch')"  # the hour the range starts in
    # the first whole hour (day) of the range and the start of the partial one at its end
    first_hour = "strftime('%Y-%m-%d %H:00:00.000', ($__from + 3599999) / 1000, 'unixepoch')"
    end_hour = "strftime('%Y-%m-%d %H:00:00.000', $__to / 1000, 'unixepoch')"
    first_day_start = "strftime('%Y-%m-%d 00:00:00.000', ($__from + 86399999) / 1000, 'unixepoch')"
    end_day_start = "strftime('%Y-%m-%d 00:00:00.000', $__to / 1000, 'unixepoch')"
    first_day = "date(($__from + 86399999) / 1000, 'unixepoch')"  # rollup_durations.day
    end_day = "date($__to / 1000, 'unixepoch')"
    team_sets = f"SELECT id FROM attribute_sets WHERE json_extract(attributes, '$.\"team\"') IN ({var('team')})"
    team_text = "json_extract(attributes, '$.\"team\"')"
    team_is_text = "json_type(attributes, '$.\"team\"') = 'text'"
    not_a_command = ("(CASE WHEN instr(custom_attributes, '\"command_name\"') AND json_valid(custom_attributes)"
                     " THEN json_extract(custom_attributes, '$.command_name') END) IS NULL")
    newline = "char(10)"
    is_number = "typeof({d}) IN ('integer', 'real')"
    hour_multiple = "$__interval_ms % 3600000 = 0"

    def between(self, column: str = "timestamp") -> str:
        return f"{column} >= {self.since} AND {column} <= {self.until}"

    def row_set(self, p: str = "") -> str:
        """A row's attribute set: its own, else (rows stored before sets existed) its session's."""
        return (f"COALESCE(+{p}attribute_set,"
                f" (SELECT attribute_set FROM session_attribute_sets WHERE session = {p}session_id))")

    def before(self, bound: str) -> str:
        return f"timestamp >= {self.since} AND timestamp < {bound}"

    def after(self, bound: str) -> str:
        return f"timestamp >= {bound} AND timestamp <= {self.until}"

    def epoch(self, column: str) -> str:
        return f"CAST(strftime('%s', {column}) AS INTEGER)"

    def time_bucket(self) -> str:
        """The chart bucket of `t` (epoch seconds, see epoch()) as the `time` column."""
        return "$__unixEpochGroupSeconds(t * 1000, $__interval_ms) / 1000 AS time"

    def time_text(self, column: str = "timestamp") -> str:
        return f"strftime('%Y-%m-%dT%H:%M:%fZ', {column})"

    def bucket(self, d: str) -> str:  # store/histograms.py, verbatim: its index is on this expression
        i = f"CAST({d} AS INTEGER)"
        return f"(CASE WHEN {d} < 100 THEN {i} ELSE length({i}) * 100 + CAST(substr({i}, 1, 2) AS INTEGER) END)"

    def indexed_by(self, index: str) -> str:
        return f" INDEXED BY {index}"


class Postgres:
    """Grafana's built-in PostgreSQL datasource (pkg/tsdb/grafana-postgresql-datasource/macros.go):
    $__timeFilter(col) -> col BETWEEN '<from>' AND '<to>' (RFC 3339, UTC), $__timeFrom()/$__timeTo() the
    quoted ends, $__timeGroupAlias(col, $__interval) the bucket's epoch seconds AS "time". Hours and days
    are UTC ones whatever the session's time zone, computed on UTC wall times (`AT TIME ZONE 'UTC'`)
    with immutable functions only, so the planner folds each bound into a constant: it then prunes
    partitions and skips branches while planning, and a scan does not compute the bound for every row
    (date_trunc and arithmetic on a timestamptz are only stable)."""
    name = "postgres"
    folds_constants = True  # the planner reduces '__all' IN ('__all') OR x to true, '__all' IN ('a') OR x to x
    since = "$__timeFrom()::timestamptz"
    until = "$__timeTo()::timestamptz"
    since_hour = f"date_trunc('hour', {since} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    first_hour = (f"(date_trunc('hour', ({since} AT TIME ZONE 'UTC') - interval '1 microsecond')"
                  " + interval '1 hour') AT TIME ZONE 'UTC'")
    end_hour = f"date_trunc('hour', {until} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    first_day = f"(date_trunc('day', ({since} AT TIME ZONE 'UTC') - interval '1 microsecond') + interval '1 day')::date"
    end_day = f"({until} AT TIME ZONE 'UTC')::date"
    first_day_start = f"{first_day}::timestamp AT TIME ZONE 'UTC'"
    end_day_start = f"{end_day}::timestamp AT TIME ZONE 'UTC'"
    team_sets = f"SELECT id FROM attribute_sets WHERE attributes ->> 'team' IN ({var('team')})"
    team_text = "attributes ->> 'team'"
    team_is_text = "jsonb_typeof(attributes -> 'team') = 'string'"
    not_a_command = "(NOT custom_attributes ? 'command_name' OR custom_attributes ->> 'command_name' IS NULL)"
    newline = "chr(10)"
    is_number = "{d} IS NOT NULL"
    hour_multiple = "$__interval_ms % 3600000 = 0"

    def between(self, column: str = "timestamp") -> str:
        return f"$__timeFilter({column})"

    def row_set(self, p: str = "") -> str:
        return f"{p}attribute_set"  # every row carries its own (copy resolves old SQLite rows' sets)

    def before(self, bound: str) -> str:
        return f"$__timeFilter(timestamp) AND timestamp < {bound}"

    def after(self, bound: str) -> str:
        return f"$__timeFilter(timestamp) AND timestamp >= {bound}"

    def epoch(self, column: str) -> str:
        return column  # $__timeGroupAlias takes the timestamptz itself

    def time_bucket(self) -> str:
        return "$__timeGroupAlias(t, $__interval)"

    def time_text(self, column: str = "timestamp") -> str:
        return column  # a timestamptz is a time to Grafana

    def bucket(self, d: str) -> str:  # store/postgres/schema.py, verbatim: its indexes are on this expression
        return f"(CASE WHEN {d} < 100 THEN {d} ELSE length({d}::text) * 100 + substr({d}::text, 1, 2)::integer END)"

    def indexed_by(self, index: str) -> str:
        return ""


Datasource = Sqlite | Postgres
SOURCES = {"metrics": ("metric_name", "metric_value", "value"), "events": ("event_name", "1", "n")}


def filters(ds: Datasource, p: str = "", *, user: bool = True, session: bool = True, model: bool = True) -> str:
    """The variables as conditions on the columns of a row (`p`: its alias and a dot, or '')."""
    parts = [*([one_of("user", f"COALESCE({p}user_email, {p}account_uuid, {p}user_id)")] if user else []),
             *([one_of("model", f"{p}model")] if model else []),
             *([one_of("session", f"{p}session_id")] if session else []),
             f"({every('team')} OR {ds.row_set(p)} IN ({ds.team_sets}))"]
    return " AND ".join(parts)


@dataclass(frozen=True)
class Units:
    """The whole hours or days of the range, as the rollup's `column` compares (first, end) and as a row's
    timestamp compares (first_start, end_start)."""
    column: str
    first: str
    end: str
    first_start: str
    end_start: str


def hours(ds: Datasource) -> Units:
    return Units("hour", ds.first_hour, ds.end_hour, ds.first_hour, ds.end_hour)


def days(ds: Datasource) -> Units:
    return Units("day", ds.first_day, ds.end_day, ds.first_day_start, ds.end_day_start)


def branches(ds: Datasource, table: str, rollup_table: str, units: Units, rollup: str, raw: str, what: str,
             rollup_what: str, only: str = "", tail: str = "", sets_table: str = "") -> str:
    """UNION ALL of the branches that together read each row of the range once: its whole units from
    `rollup_table` (under a team, `sets_table`: by default its `_sets` twin; a rollup keyed by
    attribute_set itself names itself), the partial units at its edges from `table`, or the
    whole range from `table` where the rollups can't serve it. `rollup` / `raw` are the columns selected,
    `rollup_what` / `what` the conditions on rollups / rows, `only` a further condition for using the
    rollups (a chart bucket of whole hours), `tail` ends every branch (a GROUP BY)."""
    applies = f"{units.first} <= {units.end}" + (f" AND {only}" if only else "")
    rollups = f"{every('user')} AND {every('session')} AND {applies}"
    span = f"{units.column} >= {units.first} AND {units.column} < {units.end}"
    rows = what + " AND " + filters(ds, user=False, session=False, model=False)
    whole = ds.between()
    first_start, end_start, source = units.first_start, units.end_start, rollup_table
    sets_table = sets_table or f"{rollup_table}_sets"
    if ds.folds_constants:  # PostgreSQL drops `'__all' IN (...) OR` itself: one branch for the whole range
        without = [f"SELECT {raw} FROM {table}\n    WHERE NOT ({rollups})\n      AND {whole} AND {what}"
                   f" AND {filters(ds, model=False)}"]
    else:  # SQLite would not use the user or session index through an OR: a branch for each
        without = [
            f"SELECT {raw} FROM {table}\n    WHERE {some('user')} AND {USER} IN ({var('user')})\n"
            f"      AND {whole} AND {rows} AND {one_of('session', 'session_id')}",
            f"SELECT {raw} FROM {table}\n    WHERE {every('user')} AND {some('session')}"
            f" AND session_id IN ({var('session')})\n      AND {whole} AND {rows}",
            f"SELECT {raw} FROM {table}\n    WHERE {every('user')} AND {every('session')} AND NOT ({applies})\n"
            f"      AND {whole} AND {rows}"]
    return "\n  UNION ALL ".join(branch + tail for branch in [
        f"SELECT {rollup} FROM {source}\n    WHERE {rollups} AND {every('team')}\n      AND {span} AND {rollup_what}",
        f"SELECT {rollup} FROM {sets_table}\n    WHERE {rollups} AND {some('team')}\n"
        f"      AND attribute_set IN ({ds.team_sets})\n      AND {span} AND {rollup_what}",
        f"SELECT {raw} FROM {table}\n    WHERE {rollups}\n      AND {ds.before(first_start)} AND {rows}",
        f"SELECT {raw} FROM {table}\n    WHERE {rollups}\n      AND {ds.after(end_start)} AND {rows}",
        *without,
    ])


@dataclass(frozen=True)
class Sum:
    """What one panel sums: `source` rows named `names`, grouped by `keys` (rollup key columns), narrowed by
    `where` (a condition on key columns, the same on rows and rollups); per chart bucket when `series`."""
    source: str  # metrics | events
    names: tuple[str, ...]
    keys: tuple[str, ...] = ()
    where: str = ""
    model: bool = True  # the model variable applies (the data has a model)
    series: bool = False


def sum_rows(ds: Datasource, s: Sum) -> str:
    """The rows to sum: columns [t (the hour or the row's time),] *keys, v."""
    name_column, raw_value, rollup_value = SOURCES[s.source]
    names = f"{name_column} = '{s.names[0]}'" if len(s.names) == 1 else f"{name_column} IN ({quoted(s.names)})"
    what = names + (f" AND {s.where}" if s.where else "") + (f" AND {one_of('model', 'model')}" if s.model else "")

    def columns(rollup: bool) -> str:
        time = [f"{ds.epoch('hour' if rollup else 'timestamp')} AS t"] if s.series else []
        keys = [f"NULLIF({k}, '') AS {k}" if rollup else k for k in s.keys]
        return ", ".join([*time, *keys, f"{rollup_value if rollup else raw_value} AS v"])

    return branches(ds, s.source, f"rollup_{s.source}", hours(ds), columns(True), columns(False), what, what,
                    ds.hour_multiple if s.series else "")


def summed(ds: Datasource, s: Sum, select: str, tail: str = "") -> str:
    """`SELECT {select} FROM (the summed rows) AS s {tail}`."""
    return f"SELECT {select}\nFROM (\n  {sum_rows(ds, s)}\n) AS s" + (f"\n{tail}" if tail else "")


def percentiles(ds: Datasource, event: str, wanted: tuple[int, ...]) -> str:
    """Common table expressions ending in `percentiles(key, p, value)`: the exact nearest-rank p-th
    percentile of the event's durations per key (model or tool; '' for none), found the way
    queries/percentiles.py finds it. A panel's query is `WITH {these}, ... SELECT ...`."""
    column = DURATION_KEY[event]
    model = column == "model"  # tools have no model: the model variable does not apply to them
    what = f"event_name = '{event}' AND {ds.is_number.format(d='duration_ms')}" + (
        f" AND {one_of('model', 'model')}" if model else "")
    rollup_what = f"event_name = '{event}'" + (f" AND {one_of('model', 'key')}" if model else "")
    raw = f"COALESCE({column}, '') AS key, {ds.bucket('duration_ms')} AS bucket, COUNT(*) AS n"
    counts = branches(ds, "events", "rollup_durations", days(ds), "key, bucket, SUM(n) AS n", raw, what,
                      rollup_what, tail="\n    GROUP BY 1, 2")
    rank = "(CAST(total AS INTEGER) * p + 99) / 100"  # ceil(n * p / 100), 1-based, as nearest_rank()
    ps = " UNION ALL ".join(f"SELECT {p} AS p" for p in wanted)

    def bucket_rows(same_key: str, only: str, index: str) -> str:
        """The rows of the bucket holding rank k, numbered in duration order (its index reads only them)."""
        return (f"SELECT w.key, w.p, w.k, e.duration_ms,\n"
                f"      ROW_NUMBER() OVER (PARTITION BY w.key, w.p ORDER BY e.duration_ms) AS i\n"
                f"    FROM wanted w JOIN events e{index}\n"
                f"      ON e.event_name = '{event}' AND {same_key}\n"
                f"      AND {ds.bucket('e.duration_ms')} = +w.bucket\n"
                f"    WHERE {only} AND {ds.is_number.format(d='e.duration_ms')} AND {ds.between('e.timestamp')}\n"
                f"      AND {filters(ds, 'e.', model=model)}")

    named = bucket_rows(f"e.{column} = w.key", "w.key <> ''", ds.indexed_by(f"events_{column}_durations"))
    unnamed = bucket_rows(f"(e.{column} IS NULL OR e.{column} = '')", "w.key = ''", "")
    return (f"counts AS (\n  SELECT key, bucket, SUM(n) AS n FROM (\n  {counts}\n  ) AS d GROUP BY key, bucket\n"
            f"), ranked AS (\n"
            f"  SELECT key, bucket, n, SUM(n) OVER (PARTITION BY key ORDER BY bucket) - n AS below,\n"
            f"    SUM(n) OVER (PARTITION BY key) AS total FROM counts\n"
            f"), wanted AS (\n"
            f"  SELECT key, bucket, p, {rank} - below AS k FROM ranked CROSS JOIN ({ps}) AS ps\n"
            f"  WHERE below < {rank} AND below + n >= {rank}\n"
            f"), picked AS (\n  {named}\n  UNION ALL\n  {unnamed}\n"
            f"), percentiles AS (\n  SELECT key, p, duration_ms AS value FROM picked WHERE i = k\n)")
