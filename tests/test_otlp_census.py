"""census: the record count before decoding, equal to what decoding finds, and cheap to refuse."""

from __future__ import annotations

import json

import pytest
from google.protobuf import json_format
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from capture import ALL, requests
from ccmonitor.errors import DecodeError, PayloadTooLarge
from ccmonitor.otlp import census, decode
from ccmonitor.otlp.signals import SIGNALS, Rules
from otlp_builders import empty_log_records

RULES = Rules()


def parsed_count(signal: str, body: bytes) -> int:
    """Resources, scopes, metrics, records and points, as the decoded message holds them."""
    message = SIGNALS[signal].request_type.FromString(body)
    n = 0
    for resource in getattr(message, f"resource_{'spans' if signal == 'traces' else signal}"):
        n += 1
        for scope in getattr(resource, f"scope_{'spans' if signal == 'traces' else signal}"):
            n += 1
            if signal == "logs":
                n += len(scope.log_records)
            elif signal == "traces":
                n += len(scope.spans)
            else:
                for metric in scope.metrics:
                    kind = metric.WhichOneof("data")
                    n += 1 + (1 + len(getattr(metric, kind).data_points) if kind else 0)
    return n


def protobuf_captures() -> list[tuple[str, bytes]]:
    out = []
    for scenario in ALL:
        for c in requests(scenario):
            if c.transport != "httpjson":
                out.append((c.signal, decode.decompress(c.wire, c.headers.get("content-encoding"), 1 << 26)))
    return out


def test_counts_every_real_capture_like_the_decoder() -> None:
    bodies = protobuf_captures()
    assert {signal for signal, _ in bodies} == {"logs", "metrics", "traces"}
    for signal, body in bodies:
        assert census.count_protobuf(body, signal, 1 << 30) == parsed_count(signal, body) > 0


def test_json_counts_match_the_protobuf_counts() -> None:
    for c in requests("http-json"):
        doc = json.loads(decode.decompress(c.wire, c.headers.get("content-encoding"), 1 << 26))
        pb = SIGNALS[c.signal].request_type()
        decode.json_format.ParseDict(doc, pb, ignore_unknown_fields=True)
        assert census.count_json(doc, c.signal, 1 << 30) == parsed_count(c.signal, pb.SerializeToString())


def test_more_records_than_the_limit_is_payload_too_large() -> None:
    body = empty_log_records(524_000)  # the 1 MB an 1 KB gzip body inflates to
    with pytest.raises(PayloadTooLarge, match="more than 20000 records"):
        census.count_protobuf(body, "logs", 20_000)
    assert census.count_protobuf(empty_log_records(100), "logs", 102) == 102


def test_the_walk_stops_at_the_limit() -> None:
    """Truncated far past the limit: refused as too many records, so the tail was never read."""
    body = empty_log_records(1000)[:-3]
    with pytest.raises(DecodeError):
        census.count_protobuf(body, "logs", 10_000)
    with pytest.raises(PayloadTooLarge):
        census.count_protobuf(body, "logs", 50)


@pytest.mark.parametrize("body", [b"\x0a\x05\x12", b"\x0a\xff", b"\x0b\x00", b"\x0a" + b"\xff" * 11])
def test_malformed_wire_is_a_decode_error(body: bytes) -> None:
    with pytest.raises(DecodeError):
        census.count_protobuf(body, "logs", 100)


def test_json_shapes_json_format_rejects_count_as_nothing() -> None:
    doc = {"resourceLogs": [5, {"scopeLogs": "x"}, {"scopeLogs": [{"logRecords": [{}, {}]}]}]}
    assert census.count_json(doc, "logs", 100) == 3 + 1 + 2
    with pytest.raises(PayloadTooLarge):
        census.count_json({"resourceLogs": [{}] * 11}, "logs", 10)


def logs_request(attributes: int = 0, elements: int = 0) -> bytes:
    request = SIGNALS["logs"].request_type()
    record = request.resource_logs.add().scope_logs.add().log_records.add()
    for i in range(attributes):
        record.attributes.add(key=f"k{i}")
    if elements:
        record.attributes.add(key="list").value.array_value.values.extend(
            AnyValue(int_value=i) for i in range(elements))
    return request.SerializeToString()


@pytest.mark.parametrize("media_type", [decode.PROTOBUF, decode.JSON])
def test_attribute_stuffed_records_are_refused_before_conversion(media_type: str) -> None:
    def body(message: bytes) -> bytes:
        if media_type == decode.PROTOBUF:
            return message
        return json_format.MessageToJson(SIGNALS["logs"].request_type.FromString(message)).encode()

    batch, _, _ = SIGNALS["logs"].decode(body(logs_request(attributes=1024)), media_type, RULES)
    assert batch.size == 1
    with pytest.raises(PayloadTooLarge, match="1025 attributes"):
        SIGNALS["logs"].decode(body(logs_request(attributes=1025)), media_type, RULES)
    with pytest.raises(PayloadTooLarge, match="10001 elements"):
        SIGNALS["logs"].decode(body(logs_request(elements=10_001)), media_type, RULES)
