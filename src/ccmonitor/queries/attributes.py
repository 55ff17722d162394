"""A row's `custom_attributes` as the read side sees it. Ingest always writes a JSON object, but a
row typed in by hand, or loaded from elsewhere, may hold any text: a view must show what it can and
never fail on it (issue 9). SQL reads go through the dialect's guard (Dialect.command_name), Python
reads through object_of()."""

from __future__ import annotations

import json
from typing import Any


def object_of(text: str | None) -> dict[str, Any]:
    """The attributes as a dict; {} for NULL, text that isn't JSON, or JSON that isn't an object."""
    try:
        value = json.loads(text or "{}")
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}
