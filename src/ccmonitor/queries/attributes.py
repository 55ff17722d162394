"""A row's `custom_attributes` as the read side sees it. Ingest always writes a JSON object, but a
row typed in by hand, or loaded from elsewhere, may hold any text: a view must show what it can and
never fail on it (issue 9). SQLite's JSON functions raise on text that isn't JSON, so SQL reads go
through a guard, and Python reads through object_of()."""

from __future__ import annotations

import json
from typing import Any

# The slash command a user_prompt stands for (`/exit`), else NULL. instr() first: most prompts are
# not commands, and their JSON then isn't parsed at all.
COMMAND_NAME = ("CASE WHEN instr(custom_attributes, '\"command_name\"') AND json_valid(custom_attributes)"
                " THEN json_extract(custom_attributes, '$.command_name') END")


def object_of(text: str | None) -> dict[str, Any]:
    """The attributes as a dict; {} for NULL, text that isn't JSON, or JSON that isn't an object."""
    try:
        value = json.loads(text or "{}")
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}
