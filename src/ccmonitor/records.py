"""The plain rows we store. No I/O, no protobuf: the decoder builds them, the store writes them.

They are NamedTuples whose leading fields are exactly the table columns (in EVENT_COLUMNS / ... order),
so the writer hands them to executemany without copying.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


class Event(NamedTuple):
    dedup_key: int
    timestamp: str
    session_id: str | None
    account_uuid: str | None
    organization_id: str | None
    terminal_type: str | None
    app_version: str | None
    user_id: str | None
    user_email: str | None
    event_name: str
    prompt_id: str | None
    prompt: str | None
    prompt_length: int | None
    tool_name: str | None
    success: str | None
    duration_ms: int | None
    error: str | None
    decision: str | None
    source: str | None
    tool_parameters: str | None
    model: str | None
    cost_usd: float | None
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_creation_tokens: int | None
    status_code: int | None
    attempt: int | None
    trace_id: str | None
    span_id: str | None
    custom_attributes: str
    attribute_set: int  # id of the resource's custom attributes (store/attribute_sets.py), 0 if none


class MetricPoint(NamedTuple):
    dedup_key: int
    timestamp: str
    session_id: str | None
    account_uuid: str | None
    organization_id: str | None
    terminal_type: str | None
    app_version: str | None
    user_id: str | None
    user_email: str | None
    metric_name: str
    metric_value: float
    metric_unit: str | None
    model: str | None
    type: str | None
    tool: str | None
    decision: str | None
    language: str | None
    custom_attributes: str
    attribute_set: int
    # Not stored as columns: what the temporality conversion needs.
    series_key: bytes
    start_time_unix_nano: int
    time_unix_nano: int
    cumulative: bool
    monotonic: bool


class Span(NamedTuple):
    dedup_key: int
    timestamp: str
    end_timestamp: str
    duration_ms: float
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: int
    status_code: int
    status_message: str | None
    session_id: str | None
    user_id: str | None
    prompt_id: str | None
    custom_attributes: str
    span_events: str | None
    links: str | None


EVENT_COLUMNS: tuple[str, ...] = Event._fields
METRIC_COLUMNS: tuple[str, ...] = MetricPoint._fields[: MetricPoint._fields.index("attribute_set") + 1]
SPAN_COLUMNS: tuple[str, ...] = Span._fields


@dataclass(slots=True)
class Batch:
    """Everything one export request produced, stored (or rejected) as a unit."""

    signal: str
    events: list[Event] = field(default_factory=list)
    metrics: list[MetricPoint] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    # The custom resource attributes of the sessions in it: {set id: JSON} and {session_id: set id}.
    attribute_sets: dict[int, str] = field(default_factory=dict)
    session_sets: dict[str, int] = field(default_factory=dict)

    def note_session(self, session_id: str | None, attribute_set: tuple[int, str]) -> None:
        if attribute_set[0]:
            self.attribute_sets[attribute_set[0]] = attribute_set[1]
            if session_id and session_id not in self.session_sets:
                self.session_sets[session_id] = attribute_set[0]

    @property
    def size(self) -> int:
        return len(self.events) + len(self.metrics) + len(self.spans)


class StoreResult(NamedTuple):
    accepted: int
    duplicates: int


class Decoded(NamedTuple):
    """What one export request became: its rows, how many records were rejected, and why."""
    batch: Batch
    rejected: int
    message: str
