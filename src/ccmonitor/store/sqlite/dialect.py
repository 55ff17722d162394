"""The SQLite side of store/dialect.py. Times are UTC text, so they compare and sort as text; SQLite
has no time zones (local periods take an offset as a strftime modifier, '+60 minutes'); JSON is text
that may not be JSON (a hand-typed row), so JSON access is guarded; a column keeps whatever type it
was given, so numbers are tested with typeof()."""

from __future__ import annotations

import sqlite3

_PERIODS = {"day": "strftime('%Y-%m-%d', {c}, {m})", "week": "date({c}, {m}, '-6 days', 'weekday 1')",
            "month": "strftime('%Y-%m', {c}, {m})"}


class SqliteDialect:
    name = "sqlite"

    def epoch(self, column: str) -> str:
        return f"CAST(strftime('%s', {column}) AS INTEGER)"

    def local_period(self, period: str, column: str, offset: str) -> str:
        return _PERIODS[period].format(c=column, m=offset)

    def offset_param(self, minutes: int) -> object:
        return f"{minutes:+d} minutes"

    def json_member(self, column: str) -> str:
        return f"json_extract({column}, ?)"

    def json_key(self, key: str) -> object:
        return f'$."{key}"'

    def json_text_members(self, column: str) -> tuple[str, str]:
        return f"json_each({column}) j", "j.type = 'text'"

    def command_name(self, column: str) -> str:
        # instr() first: most prompts are not commands, and their JSON then isn't parsed at all
        return (f"CASE WHEN instr({column}, '\"command_name\"') AND json_valid({column})"
                f" THEN json_extract({column}, '$.command_name') END")

    def total(self, expr: str) -> str:
        return f"SUM({expr})"

    def is_number(self, column: str) -> str:
        return f"typeof({column}) IN ('integer', 'real')"

    def duration_bucket(self, column: str) -> str:
        i = f"CAST({column} AS INTEGER)"
        return f"(CASE WHEN {column} < 100 THEN {i} ELSE length({i}) * 100 + CAST(substr({i}, 1, 2) AS INTEGER) END)"

    def hint(self, column: str) -> str:
        return f"+{column}"

    def indexed_by(self, index: str) -> str:
        return f"INDEXED BY {index}"

    def set_of(self, prefix: str = "") -> str:
        # rows stored before migration 0004 have no set of their own: their session's. The unary +
        # keeps a time or user index in charge of a filtered query: a lookup per row beats probing per set.
        return f"COALESCE(+{prefix}attribute_set, {self.session_set(prefix + 'session_id')})"

    def session_set(self, session_id: str) -> str:
        return f"(SELECT attribute_set FROM session_attribute_sets WHERE session = {session_id})"


SQLITE = SqliteDialect()


class Connection(sqlite3.Connection):
    """Every connection the SQLite store opens: it carries its dialect, so it is a Reader
    (store/__init__.py) that the query modules accept."""
    sql = SQLITE
