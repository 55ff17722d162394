"""Count a request's records before decoding it, so their number can be refused cheaply.

Why: decoding costs memory and CPU per record, not per byte. An empty log record is 2 bytes on the
wire, so a 1 KB gzip body can carry half a million of them, and decoding that body costs gigabytes.
This walk reads only the tags and lengths of the nested messages that hold records (resources,
scopes, metrics, records, data points), allocates nothing per record, and stops as soon as the count
passes the limit, so refusing an amplification body costs about as much as the limit, not the body.

A record here is every message on that path: each counts once, so ten thousand empty resources count
like ten thousand log records. Fields are followed by number (the OTLP proto's), nothing else is read.
"""

from __future__ import annotations

from typing import Any

from ccmonitor.errors import DecodeError, PayloadTooLarge

# signal -> the field numbers holding records at each depth (request, resource, scope, ...).
PATHS: dict[str, tuple[frozenset[int], ...]] = {
    "logs": (frozenset({1}), frozenset({2}), frozenset({2})),
    "traces": (frozenset({1}), frozenset({2}), frozenset({2})),
    # ScopeMetrics.metrics, then Metric.{gauge, sum, histogram, exponential_histogram, summary}.data_points
    "metrics": (frozenset({1}), frozenset({2}), frozenset({2}), frozenset({5, 7, 9, 10, 11}), frozenset({1})),
}
JSON_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "logs": (("resourceLogs", "resource_logs"), ("scopeLogs", "scope_logs"), ("logRecords", "log_records")),
    "traces": (("resourceSpans", "resource_spans"), ("scopeSpans", "scope_spans"), ("spans",)),
    "metrics": (("resourceMetrics", "resource_metrics"), ("scopeMetrics", "scope_metrics"), ("metrics",),
                ("gauge", "sum", "histogram", "exponentialHistogram", "exponential_histogram", "summary"),
                ("dataPoints", "data_points")),
}


class _Counter:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.n = 0

    def add(self, k: int = 1) -> None:
        self.n += k
        if self.n > self.limit:
            raise PayloadTooLarge(f"request holds more than {self.limit} records; send smaller batches")


def _varint(buf: bytes, i: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while i < end:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7
        if shift > 63:
            break
    raise DecodeError("invalid protobuf: malformed varint")


def _walk(buf: bytes, start: int, end: int, path: tuple[frozenset[int], ...], counter: _Counter) -> None:
    wanted, rest = path[0], path[1:]
    i = start
    while i < end:
        key, i = _varint(buf, i, end)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, i = _varint(buf, i, end)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            size, i = _varint(buf, i, end)
            if field in wanted:
                counter.add()
                if rest:
                    _walk(buf, i, min(i + size, end), rest, counter)
            i += size
        else:  # groups (3, 4) have no place in OTLP
            raise DecodeError(f"invalid protobuf: unsupported wire type {wire}")
        if i > end:
            raise DecodeError("invalid protobuf: truncated message")


def count_protobuf(body: bytes, signal: str, limit: int) -> int:
    """Records in a protobuf request; PayloadTooLarge as soon as there are more than `limit`."""
    counter = _Counter(limit)
    _walk(body, 0, len(body), PATHS[signal], counter)
    return counter.n


def count_json(doc: dict[str, Any], signal: str, limit: int) -> int:
    """Records in a parsed OTLP/JSON request, the same way; shapes json_format would reject are skipped."""
    counter = _Counter(limit)
    level: list[Any] = [doc]
    for keys in JSON_PATHS[signal]:
        children: list[Any] = []
        for node in level:
            if not isinstance(node, dict):
                continue
            for key in keys:
                value = node.get(key)
                items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
                counter.add(len(items))
                children.extend(items)
        level = children
    return counter.n


# OTel SDKs keep at most 128 attributes per record by default; Claude Code sends about 20.
MAX_ATTRIBUTES = 1024
_LEVELS = {"logs": ("resource_logs", "scope_logs", "log_records"),
           "traces": ("resource_spans", "scope_spans", "spans"),
           "metrics": ("resource_metrics", "scope_metrics", "metrics")}


def check_attributes(message: Any, signal: str, limit: int = MAX_ATTRIBUTES) -> None:
    """Refuse a request where a resource, scope or record carries more than `limit` attributes: an
    empty attribute is 2 bytes on the wire, and converting millions of them costs seconds of CPU.
    Only lengths are read (O(1) each), before any attribute is converted."""
    resources, scopes, records = _LEVELS[signal]
    for resource in getattr(message, resources):
        _within(resource.resource.attributes, limit)
        for scope in getattr(resource, scopes):
            _within(scope.scope.attributes, limit)
            for record in getattr(scope, records):
                if signal == "traces":
                    for part in (record.events, record.links):
                        _within(part, limit)
                        for item in part:
                            _within(item.attributes, limit)
                if signal != "metrics":
                    _within(record.attributes, limit)
                    continue
                kind = record.WhichOneof("data")
                for point in getattr(record, kind).data_points if kind else ():
                    _within(point.attributes, limit)


def _within(attributes: Any, limit: int) -> None:
    if len(attributes) > limit:
        raise PayloadTooLarge(f"a record carries {len(attributes)} attributes; at most {limit} are accepted")
