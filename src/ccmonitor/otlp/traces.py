"""ExportTraceServiceRequest -> Span rows (Claude Code's beta tracing: one trace per prompt).

Span events and links are kept as JSON; `session.id`, `user.id` and `prompt.id` get columns so a
session page can join spans to events. With store_prompts off the interaction span's `user_prompt`
is dropped like every other prompt text. Secrets in the attributes (the span's, its events' and
links'), and in the status message, are redacted (ccmonitor/redaction.py).
"""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ccmonitor.otlp.origin import Origin
from ccmonitor.otlp.values import as_text, attributes, hex_id, timestamp_text
from ccmonitor.records import Batch, Span
from ccmonitor.redaction import Redactor, Scrub
from ccmonitor.telemetry import PROMPT_KEYS, record_key


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def to_batch(request: ExportTraceServiceRequest, store_prompts: bool,
             redactor: Redactor | None = None) -> tuple[Batch, int, str]:
    batch = Batch("traces")
    rejected = 0
    scrub = redactor.scrub() if redactor is not None else None
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            origin = Origin.of(rs.resource, ss.scope)
            if scrub is not None:
                scrub.origin(origin)
            for span in ss.spans:
                trace_id, span_id = hex_id(span.trace_id), hex_id(span.span_id)
                if trace_id is None or span_id is None:
                    rejected += 1
                    continue
                batch.spans.append(_span(span, origin, trace_id, span_id, store_prompts, scrub))
    if scrub is not None:
        scrub.close()
    message = f"{rejected} span(s) without a trace or span id" if rejected else ""
    return batch, rejected, message


def _span(span: Any, origin: Origin, trace_id: str, span_id: str, store_prompts: bool,
          scrub: Scrub | None) -> Span:
    attrs = origin.merged(span.attributes)
    if not store_prompts:
        for k in PROMPT_KEYS:
            attrs.pop(k, None)
    session_id = as_text(attrs.pop("session.id", None))
    user_id = as_text(attrs.pop("user.id", None))
    prompt_id = as_text(attrs.pop("prompt.id", None))
    if span.trace_state:
        attrs["otel.trace_state"] = span.trace_state
    events = [
        {"name": e.name, "timestamp": timestamp_text(e.time_unix_nano), "attributes": attributes(e.attributes)}
        for e in span.events
    ]
    links = [
        {"trace_id": hex_id(link.trace_id), "span_id": hex_id(link.span_id),
         "attributes": attributes(link.attributes)}
        for link in span.links
    ]
    status_message = span.status.message or None
    if scrub is not None:  # span.name is Claude Code's (claude_code.tool), not scanned
        scrub.identity(attrs)
        scrub.attributes(attrs)
        for item in (*events, *links):
            scrub.attributes(item["attributes"])
        status_message = scrub.text(status_message)
    start, end = span.start_time_unix_nano, max(span.end_time_unix_nano, span.start_time_unix_nano)
    return Span(
        record_key(origin.digest, span.SerializeToString(deterministic=True)),
        timestamp_text(start),
        timestamp_text(end),
        (end - start) / 1e6,
        trace_id,
        span_id,
        hex_id(span.parent_span_id),
        span.name,
        span.kind,
        span.status.code,
        status_message,
        session_id,
        user_id,
        prompt_id,
        _dumps(attrs),
        _dumps(events) if events else None,
        _dumps(links) if links else None,
    )
