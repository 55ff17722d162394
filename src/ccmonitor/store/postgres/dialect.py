"""The PostgreSQL side of store/dialect.py. `timestamp` is timestamptz and every session runs in
UTC, so a text parameter in the stored form compares as a UTC time; `custom_attributes` is jsonb,
always valid; numbers are typed by their column; the planner needs no hints."""

from __future__ import annotations

_PERIODS = {"day": "to_char({t}, 'YYYY-MM-DD')", "week": "to_char(date_trunc('week', {t}), 'YYYY-MM-DD')",
            "month": "to_char({t}, 'YYYY-MM')"}


class PostgresDialect:
    name = "postgresql"

    def epoch(self, column: str) -> str:
        return f"CAST(floor(extract(epoch FROM {column})) AS bigint)"

    def local_period(self, period: str, column: str, offset: str) -> str:
        local = f"(({column} AT TIME ZONE 'UTC') + make_interval(mins => {offset}))"
        return _PERIODS[period].format(t=local)

    def offset_param(self, minutes: int) -> object:
        return minutes

    def json_member(self, column: str) -> str:
        return f"({column}::jsonb ->> CAST(? AS text))"

    def json_key(self, key: str) -> object:
        return key

    def json_text_members(self, column: str) -> tuple[str, str]:
        return f"jsonb_each_text({column}) j", f"jsonb_typeof({column} -> j.key) = 'string'"

    def command_name(self, column: str) -> str:
        return f"({column} ->> 'command_name')"

    def total(self, expr: str) -> str:
        # numeric holds any finite sum (and ±Infinity); the reader turns it into a float: inf past the
        # largest one, as SQLite's SUM gives. float8's SUM raises "value out of range" instead.
        return f"SUM(CAST({expr} AS numeric))"

    def is_number(self, column: str) -> str:
        return f"{column} IS NOT NULL"

    def duration_bucket(self, column: str) -> str:
        # verbatim in the partial indexes of store/postgres/schema.py: keep the two identical
        return (f"(CASE WHEN {column} < 100 THEN {column} ELSE length({column}::text) * 100"
                f" + substr({column}::text, 1, 2)::integer END)")

    def hint(self, column: str) -> str:
        return column

    def indexed_by(self, index: str) -> str:
        return ""

    def set_of(self, prefix: str = "") -> str:
        return f"{prefix}attribute_set"  # every row has its own (copy resolves old SQLite rows' sets)

    def session_set(self, session_id: str) -> str:
        return f"(SELECT attribute_set FROM session_attribute_sets WHERE session = {session_id})"


POSTGRES = PostgresDialect()
