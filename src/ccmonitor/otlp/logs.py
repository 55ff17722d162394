"""ExportLogsServiceRequest -> Event rows (Claude Code sends its events as OTLP log records).

`event_name` is what the body carries (`claude_code.api_request`); records from other sources fall
back to the OTLP `event_name` field, then the `event.name` attribute, then `log`, and keep their body
in custom_attributes. A `<REDACTED>` prompt (prompt logging off) is stored as NULL with its length;
with store_prompts off no prompt text is kept anywhere.

A numeric column whose value is outside its bound (ccmonitor/bounds.py: a negative token count,
2**63-1 ms) keeps the event and moves the value out of the column into custom_attributes, as a value
the parser can't read already is: the API request or error still happened and is counted, its other
columns hold, no sum includes the absurd number, and the value is still there to look at. Nothing is
rejected, so the response is a partial_success warning (0 rejected, a message naming the columns).
"""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from ccmonitor.bounds import EVENT_COLUMNS
from ccmonitor.otlp.origin import Origin
from ccmonitor.otlp.values import (
    any_value,
    as_float,
    as_int,
    as_text,
    hex_id,
    now_unix_nano,
    timestamp_text,
)
from ccmonitor.records import Batch, Event
from ccmonitor.redaction import Redactor, Scrub
from ccmonitor.telemetry import PROMPT_BODY_EVENTS, PROMPT_KEYS, record_key

REDACTED = "<REDACTED>"
# Attributes that hold what the user typed (or the full API conversation): dropped with store_prompts off.

# column -> (attribute, parser); a value the parser can't read stays in custom_attributes.
_TEXT = as_text
EVENT_FIELDS: tuple[tuple[str, Any], ...] = (
    ("prompt_length", as_int),
    ("tool_name", _TEXT),
    ("success", _TEXT),
    ("duration_ms", as_int),
    ("error", _TEXT),
    ("decision", _TEXT),
    ("source", _TEXT),
    ("tool_parameters", None),
    ("model", _TEXT),
    ("cost_usd", as_float),
    ("input_tokens", as_int),
    ("output_tokens", as_int),
    ("cache_read_tokens", as_int),
    ("cache_creation_tokens", as_int),
    ("status_code", as_int),
    ("attempt", as_int),
)
_FIELDS = tuple((column, parse, EVENT_COLUMNS.get(column)) for column, parse in EVENT_FIELDS)
_TEXT_COLUMNS = tuple(i for i, (column, _) in enumerate(EVENT_FIELDS) if column in ("error", "tool_parameters"))


def to_batch(request: ExportLogsServiceRequest, store_prompts: bool,
             redactor: Redactor | None = None) -> tuple[Batch, int, str]:
    batch = Batch("logs")
    seen: dict[bytes, int] = {}
    outside: dict[str, int] = {}  # column -> events whose value there was out of bounds
    received = now_unix_nano()
    scrub = redactor.scrub() if redactor is not None else None
    for rl in request.resource_logs:
        for sl in rl.scope_logs:
            origin = Origin.of(rl.resource, sl.scope)
            if scrub is not None:
                scrub.origin(origin)
            for record in sl.log_records:
                raw = record.SerializeToString(deterministic=True)
                n = seen.get(raw, 0)
                seen[raw] = n + 1
                # the same record twice in one request is two records, not a resend
                key = record_key(origin.digest, raw, n.to_bytes(4, "little")) if n else record_key(origin.digest, raw)
                event = _event(record, origin, key, received, store_prompts, outside, scrub)
                batch.events.append(event)
                batch.note_session(event.session_id, origin.attribute_set)
    if scrub is not None:
        scrub.close()
    return batch, 0, _warning(outside)


def _warning(outside: dict[str, int]) -> str:
    if not outside:
        return ""
    columns = ", ".join(f"{c} ({n}x, not in {EVENT_COLUMNS[c].text()})" for c, n in outside.items())
    return f"events kept, values outside their range moved to custom_attributes: {columns}"[:500]


def _event(record: Any, origin: Origin, key: int, received: int, store_prompts: bool,
           outside: dict[str, int], scrub: Scrub | None) -> Event:
    attrs = origin.merged(record.attributes)
    if scrub is not None:
        scrub.identity(attrs)
    identity = origin.identity(attrs)
    name, body_kept = _event_name(record, attrs.get("event.name"))
    if body_kept is not None:
        attrs["body"] = body_kept
    if record.severity_number:
        attrs["otel.severity_number"] = record.severity_number
    if record.severity_text:
        attrs["otel.severity_text"] = record.severity_text
    ts = record.time_unix_nano or record.observed_time_unix_nano or received
    if record.observed_time_unix_nano and record.observed_time_unix_nano != ts:
        attrs["otel.observed_time_unix_nano"] = record.observed_time_unix_nano

    prompt = attrs.pop("prompt", None)
    if prompt is not None and attrs.get("prompt_text") == prompt:
        del attrs["prompt_text"]  # an exact duplicate of `prompt` (2.1.2xx+ send both)
    if not store_prompts:
        prompt = None
        for k in PROMPT_KEYS:
            attrs.pop(k, None)
        if name in PROMPT_BODY_EVENTS:
            attrs.pop("body", None)
    elif prompt == REDACTED:
        prompt = None
    elif prompt is not None and not isinstance(prompt, str):
        attrs["prompt"], prompt = prompt, None

    columns: list[Any] = []
    pop = attrs.pop
    for column, parse, bound in _FIELDS:
        raw = pop(column, None)
        if raw is None:  # most columns are absent from most events: the hot path
            value = None
        elif parse is None:  # tool_parameters: a JSON string as sent, or JSON of a structured value
            value = raw if isinstance(raw, str) else json.dumps(raw)
        else:
            value = parse(raw)
            if bound is not None and value is not None and not bound.holds(value):
                outside[column] = outside.get(column, 0) + 1
                value = None
            if value is None:
                attrs[column] = raw
        columns.append(value)
    if scrub is not None:  # after the columns took theirs: what is left is custom_attributes
        prompt = scrub.text(prompt)
        for i in _TEXT_COLUMNS:
            columns[i] = scrub.text(columns[i])
        scrub.attributes(attrs)

    return Event._make((
        key,
        timestamp_text(ts),
        *identity,
        name,
        as_text(attrs.pop("prompt.id", None)),
        prompt,
        *columns,
        hex_id(record.trace_id),
        hex_id(record.span_id),
        json.dumps(attrs, ensure_ascii=False, separators=(",", ":")),
        origin.attribute_set[0],
    ))


def _event_name(record: Any, short: Any) -> tuple[str, Any]:
    """(event_name, body to keep or None); `short` is the `event.name` attribute."""
    body = record.body
    body_kind = body.WhichOneof("value")
    text = body.string_value if body_kind == "string_value" else None
    if text and isinstance(short, str) and (text == short or text.endswith("." + short)):
        return text, None
    body_value = any_value(body) if body_kind else None
    if record.event_name:
        return record.event_name, body_value
    if isinstance(short, str) and short:
        return short, body_value
    return "log", body_value
