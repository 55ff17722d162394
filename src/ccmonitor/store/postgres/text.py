"""Text that PostgreSQL cannot hold as sent, which SQLite stores as it is. Refusing a request that holds
some would have its sender retry it forever (503), so on PostgreSQL:

  * NUL (U+0000), which text and jsonb refuse: U+FFFD, the replacement character, stands in for each,
    in a text column the character itself, in JSON text bound for jsonb (custom_attributes, attribute
    sets) its `\\u0000` escape. Only a request the database refused is looked at (without_nul).
  * Over-long text in a column that an index or a rollup's key holds (a btree entry holds at most 2704
    bytes): a value longer than KEY_BYTES is shortened to its beginning, "…" and a digest of the whole,
    so that different values stay different and the same value is shortened the same way by every
    receiver (with_short_keys). Every request is looked at: whether one fits depends on the others.

The dedup key and the attribute set's id were made from the text as sent, so a resend of the same
request is still recognised as one.
"""

from __future__ import annotations

import hashlib
import operator
import re
from typing import Any, TypeVar

from ccmonitor.records import Batch, Event, MetricPoint, Span

NUL, REPLACEMENT = "\x00", "\ufffd"
ESCAPED_NUL = "\\u0000"
# \u0000 that is an escape, not text: preceded by an even run of backslashes (none, or escaped ones)
_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")
JSON_FIELDS = frozenset({"custom_attributes"})
# Six key columns of this size fit in one btree entry (rollup_metrics: hour, metric_name, type, model,
# tool, decision, language); no real name, id or model comes near it.
KEY_BYTES = 400
_DIGEST_HEX = 16
# the text columns of the indexes and rollup keys of store/postgres/migrations/0001_initial.sql
_KEY_COLUMNS: dict[type[Event | MetricPoint | Span], tuple[str, ...]] = {
    Event: ("session_id", "account_uuid", "user_id", "user_email", "terminal_type", "event_name", "prompt_id",
            "tool_name", "success", "decision", "model"),
    MetricPoint: ("session_id", "account_uuid", "user_id", "user_email", "terminal_type", "metric_name", "model",
                  "type", "tool", "decision", "language"),
    Span: ("trace_id", "session_id"),
}
_KEYS = {kind: (columns, operator.itemgetter(*(kind._fields.index(c) for c in columns)))
         for kind, columns in _KEY_COLUMNS.items()}
R = TypeVar("R", Event, MetricPoint, Span)


def text(value: str) -> str:
    return value.replace(NUL, REPLACEMENT) if NUL in value else value


def json_text(value: str) -> str:
    value = text(value)
    return _ESCAPE.sub(r"\1\\ufffd", value) if ESCAPED_NUL in value else value


def key_text(value: str) -> str:
    """`value` if it fits in KEY_BYTES of UTF-8, else its beginning, "…" and a digest of all of it."""
    if len(value) <= KEY_BYTES // 4:  # at most 4 bytes a character: the hot path
        return value
    data = value.encode("utf-8", "surrogatepass")
    if len(data) <= KEY_BYTES:
        return value
    digest = hashlib.sha256(data).hexdigest()[:_DIGEST_HEX]
    head = data[:KEY_BYTES - _DIGEST_HEX - len("…".encode())].decode("utf-8", "ignore")  # whole characters
    return f"{head}…{digest}"


def _without_nul(record: R) -> R:
    changed: dict[str, Any] = {
        name: json_text(value) if name in JSON_FIELDS else text(value)
        for name, value in zip(record._fields, record, strict=True)
        if isinstance(value, str) and (NUL in value or (name in JSON_FIELDS and ESCAPED_NUL in value))}
    return record._replace(**changed) if changed else record


def without_nul(batch: Batch) -> Batch:
    """The batch with U+FFFD for every NUL PostgreSQL would refuse; `batch` itself when it holds none."""
    cleaned = Batch(batch.signal, [_without_nul(e) for e in batch.events], [_without_nul(m) for m in batch.metrics],
                    [_without_nul(s) for s in batch.spans],
                    {i: json_text(a) for i, a in batch.attribute_sets.items()},
                    {text(s): i for s, i in batch.session_sets.items()})
    return batch if cleaned == batch else cleaned


def _short_keys(records: list[R]) -> list[R]:
    if not records:
        return records
    columns, values = _KEYS[type(records[0])]
    out: list[R] | None = None
    for i, record in enumerate(records):
        if any(v is not None and len(v) > KEY_BYTES // 4 for v in values(record)):
            changed: dict[str, Any] = {c: key_text(v) for c, v in zip(columns, values(record), strict=True)
                                       if v is not None and key_text(v) is not v}
            if changed:
                if out is None:
                    out = list(records)
                out[i] = record._replace(**changed)
    return records if out is None else out


def with_short_keys(batch: Batch) -> Batch:
    """The batch with every key column's text shortened to KEY_BYTES; `batch` itself when all fit."""
    events, metrics, spans = _short_keys(batch.events), _short_keys(batch.metrics), _short_keys(batch.spans)
    sessions = batch.session_sets
    if any(len(s) > KEY_BYTES // 4 for s in sessions):
        sessions = {key_text(s): i for s, i in sessions.items()}
    if events is batch.events and metrics is batch.metrics and spans is batch.spans and sessions is batch.session_sets:
        return batch
    return Batch(batch.signal, events, metrics, spans, batch.attribute_sets, sessions)
