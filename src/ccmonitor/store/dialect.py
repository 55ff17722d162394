"""What differs between the SQL of the two backends, in one place per backend.

The query modules (queries/) are written once, against this interface; each backend has one module
that implements it (store/sqlite/dialect.py, store/postgres/dialect.py). Placeholders are always
`?`: the PostgreSQL reader turns them into psycopg's `%s`. Stored times always read back as UTC text
in the stored form ('2026-11-27 16:19:15.273'), whatever the column type, so a query compares times
with text parameters on either backend. What is here, and only this, varies:
  * time: the unix second of a stored time (chart buckets), local calendar periods (reports);
  * JSON: one member of an attribute object, the text members of an object (filter choices);
  * type tests: which stored durations are numbers; the histogram bucket of a duration;
  * planner hints: SQLite's unary `+` and INDEXED BY, which PostgreSQL neither needs nor accepts;
  * a row's attribute set (rows stored before sets existed take their session's, on SQLite only).
"""

from __future__ import annotations

from typing import Protocol


class Dialect(Protocol):
    name: str  # "sqlite" | "postgresql"

    def epoch(self, column: str) -> str:
        """An integer: the unix second of the stored time in `column`."""

    def local_period(self, period: str, column: str, offset: str) -> str:
        """The local 'YYYY-MM-DD' day, Monday of the week, or 'YYYY-MM' month of `column`, where
        `offset` is SQL giving the UTC offset as produced by offset_param()."""

    def offset_param(self, minutes: int) -> object:
        """A UTC offset in minutes as the parameter local_period() expects."""

    def json_member(self, column: str) -> str:
        """SQL for one member of the JSON object in `column`, as text; takes one parameter, json_key()."""

    def json_key(self, key: str) -> object:
        """The parameter of json_member() that selects `key`."""

    def json_text_members(self, column: str) -> tuple[str, str]:
        """(a FROM item naming the members of the JSON object in `column` j(key, value), the condition
        that keeps the text-valued ones)."""

    def command_name(self, column: str) -> str:
        """The slash command a user_prompt stands for (`command_name`), else NULL; never fails on bad JSON."""

    def total(self, expr: str) -> str:
        """SUM of a float expression that never fails: past the largest float it is infinite (SQLite's
        SUM) rather than an error (PostgreSQL's float SUM), so a view shows a missing number, not a 500."""

    def is_number(self, column: str) -> str:
        """True where the duration in `column` is a number (SQLite keeps what it was given)."""

    def duration_bucket(self, column: str) -> str:
        """The histogram bucket of a duration (store/histograms.py): two significant digits."""

    def hint(self, column: str) -> str:
        """`column`, kept out of index choice where the backend's planner needs telling."""

    def indexed_by(self, index: str) -> str:
        """A clause forcing an index, or '' where the backend chooses well itself."""

    def set_of(self, prefix: str = "") -> str:
        """A row's attribute set (store/attribute_sets.py); `prefix` qualifies its columns ('e.')."""

    def session_set(self, session_id: str) -> str:
        """The attribute set of the session in column `session_id` (NULL if it has none)."""
