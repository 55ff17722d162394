"""queries/attributes: custom_attributes read defensively, in Python and in SQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import stored
from ccmonitor.queries.attributes import object_of
from ccmonitor.store import open_store
from ccmonitor.store.sqlite.dialect import SQLITE

COMMAND_NAME = SQLITE.command_name("custom_attributes")


@pytest.mark.parametrize(("text", "expected"), [
    ('{"a": 1}', {"a": 1}), (None, {}), ("", {}), ("not json", {}), ("[1, 2]", {}), ("5", {}),
    ("[" * 100_000, {}),
])
def test_object_of_is_always_a_dict(text: str | None, expected: dict[str, object]) -> None:
    assert object_of(text) == expected


def test_command_name_of_attributes_that_are_not_a_command_is_null(db_target: Path | str) -> None:
    """JSON that either backend can store: an object with or without the key, or no object at all."""
    open_store(db_target).close()  # the database, made and migrated
    column = "jsonb" if stored.dialect(db_target).name == "postgresql" else "TEXT"
    stored.execute(db_target, f"CREATE TABLE attrs (n integer, custom_attributes {column})")
    rows = ['{"command_name": "/exit"}', '{"other": 1}', None, "{}", '["command_name"]', '"command_name"', "5",
            '{"command_name": null}', '{"nested": {"command_name": "/x"}}']
    for n, text in enumerate(rows):
        stored.execute(db_target, "INSERT INTO attrs VALUES (?, ?)", (n, text))
    got = stored.rows(db_target, f"SELECT {stored.dialect(db_target).command_name('custom_attributes')}"
                                 " FROM attrs ORDER BY n")
    assert got == [("/exit",), *[(None,)] * (len(rows) - 1)]


def test_command_name_never_raises_on_text_that_is_not_json() -> None:
    """SQLite keeps any text in a JSON column (PostgreSQL's jsonb refuses it): its guard, SQLite only."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE events (custom_attributes TEXT)")
    rows = ['{"command_name": "/exit"}', '{"other": 1}', 'not json "command_name"', None, "{}"]
    conn.executemany("INSERT INTO events VALUES (?)", [(r,) for r in rows])
    got = [r[0] for r in conn.execute(f"SELECT {COMMAND_NAME} FROM events ORDER BY rowid")]
    assert got == ["/exit", None, None, None, None]
    with pytest.raises(sqlite3.OperationalError):  # what the guard protects against
        conn.execute("SELECT json_extract(custom_attributes, '$.command_name') FROM events").fetchall()
