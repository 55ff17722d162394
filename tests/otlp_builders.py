"""Small builders for OTLP requests made in tests (real protobuf messages, no mocks)."""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
from google.protobuf import json_format
from google.protobuf.internal.encoder import _VarintBytes
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
DELTA = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
T0 = 1_795_796_355_000_000_000
M = TypeVar("M", bound=Message)


def kv(key: str, value: Any) -> KeyValue:
    if isinstance(value, bool):
        v = AnyValue(bool_value=value)
    elif isinstance(value, int):
        v = AnyValue(int_value=value)
    elif isinstance(value, float):
        v = AnyValue(double_value=value)
    else:
        v = AnyValue(string_value=str(value))
    return KeyValue(key=key, value=v)


def sum_request(points: list[tuple[int, int, float]], *, temporality: int = CUMULATIVE, attrs: dict | None = None,
                name: str = "claude_code.token.usage", resource: dict | None = None) -> ExportMetricsServiceRequest:
    """points: (start_unix_nano, time_unix_nano, value)."""
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.extend(kv(k, v) for k, v in (resource or {"service.name": "claude-code"}).items())
    sm = rm.scope_metrics.add()
    sm.scope.name = "com.anthropic.claude_code"
    m = sm.metrics.add()
    m.name = name
    m.unit = "tokens"
    m.sum.aggregation_temporality = temporality
    m.sum.is_monotonic = True
    for start, t, value in points:
        p = m.sum.data_points.add()
        p.start_time_unix_nano, p.time_unix_nano, p.as_double = start, t, value
        p.attributes.extend(kv(k, v) for k, v in (attrs or {"type": "input", "session.id": "s1"}).items())
    return req


def event_request(events: list[dict[str, Any]], *, resource: dict | None = None) -> ExportLogsServiceRequest:
    """events: attribute dicts; 'event.name' becomes the body 'claude_code.<name>'; '_time' sets the time."""
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.extend(kv(k, v) for k, v in (resource or {"service.name": "claude-code"}).items())
    sl = rl.scope_logs.add()
    sl.scope.name = "com.anthropic.claude_code.events"
    for i, attrs in enumerate(events):
        attrs = dict(attrs)
        rec = sl.log_records.add()
        rec.time_unix_nano = rec.observed_time_unix_nano = attrs.pop("_time", T0 + i * 1_000_000)
        rec.body.string_value = "claude_code." + attrs["event.name"]
        rec.attributes.extend(kv(k, v) for k, v in attrs.items())
    return req


MEDIA = {"protobuf": "application/x-protobuf", "json": "application/json"}


def post_export(port: int, signal: str, request: Message, encoding: str, response_type: type[M]) -> M:
    """POST a request to /v1/<signal> in either encoding; the decoded Export*ServiceResponse of a 200."""
    body = request.SerializeToString() if encoding == "protobuf" else json_format.MessageToJson(request).encode()
    r = httpx.post(f"http://127.0.0.1:{port}/v1/{signal}", content=body,
                   headers={"content-type": MEDIA[encoding]}, timeout=30)
    assert r.status_code == 200, r.text
    if encoding == "protobuf":
        return response_type.FromString(r.content)
    return json_format.Parse(r.text, response_type())


def empty_log_records(n: int) -> bytes:
    """An ExportLogsServiceRequest of n empty log records, built on the wire: 2 bytes a record, the
    amplification shape (1 MB of it gzips to about 1 KB)."""
    records = b"\x12\x00" * n  # ScopeLogs.log_records, each an empty LogRecord
    resource = b"\x12" + _VarintBytes(len(records)) + records  # ResourceLogs.scope_logs
    return b"\x0a" + _VarintBytes(len(resource)) + resource  # the request's resource_logs
