"""PostgreSQL's text and jsonb cannot hold U+0000 (NUL), which SQLite stores as sent and which a sender
may put in any string of a request. Refusing such a request would have its sender retry it forever
(503), so on PostgreSQL U+FFFD, the replacement character, stands in for each NUL: in a text column the
character itself, in JSON text bound for jsonb (custom_attributes, attribute sets) its `\\u0000` escape.
The dedup key and the attribute set's id were made from the text as sent, so a resend of the same
request is still recognised as one."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from ccmonitor.records import Batch

NUL, REPLACEMENT = "\x00", "\ufffd"
ESCAPED_NUL = "\\u0000"
# \u0000 that is an escape, not text: preceded by an even run of backslashes (none, or escaped ones)
_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")
JSON_FIELDS = frozenset({"custom_attributes"})
R = TypeVar("R", bound=tuple[Any, ...])


def text(value: str) -> str:
    return value.replace(NUL, REPLACEMENT) if NUL in value else value


def json_text(value: str) -> str:
    value = text(value)
    return _ESCAPE.sub(r"\1\\ufffd", value) if ESCAPED_NUL in value else value


def _record(record: R) -> R:
    changed = {name: json_text(value) if name in JSON_FIELDS else text(value)
               for name, value in zip(record._fields, record, strict=True)  # type: ignore[attr-defined]
               if isinstance(value, str) and (NUL in value or (name in JSON_FIELDS and ESCAPED_NUL in value))}
    return record._replace(**changed) if changed else record  # type: ignore[attr-defined]


def without_nul(batch: Batch) -> Batch:
    """The batch with U+FFFD for every NUL PostgreSQL would refuse; `batch` itself when it holds none."""
    cleaned = Batch(batch.signal, [_record(e) for e in batch.events], [_record(m) for m in batch.metrics],
                    [_record(s) for s in batch.spans],
                    {i: json_text(a) for i, a in batch.attribute_sets.items()},
                    {text(s): i for s, i in batch.session_sets.items()})
    return batch if cleaned == batch else cleaned
