"""decode + convert never fail on input with anything but our own errors (400/413/415 family):
random bytes, mutated real captures, and random JSON shapes."""

from __future__ import annotations

import contextlib
import gzip
import json
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capture import requests
from ccmonitor.errors import DecodeError, InputError, PayloadTooLarge
from ccmonitor.otlp import decode
from ccmonitor.otlp.signals import SIGNALS, Rules

RULES = Rules()
CAPTURED = {c.signal: c.wire for c in requests("http-protobuf")}
CAPTURED["traces"] = next(c.wire for c in requests("traces-grpc") if c.signal == "traces")
JSON_CAPTURED = {c.signal: c.wire for c in requests("http-json")}
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def convert(signal: str, body: bytes, media_type: str) -> None:
    with contextlib.suppress(InputError):  # anything else fails the test
        SIGNALS[signal].decode(body, media_type, RULES)


@FAST
@given(signal=st.sampled_from(sorted(SIGNALS)), body=st.binary(max_size=2048))
def test_random_bytes(signal: str, body: bytes) -> None:
    convert(signal, body, decode.PROTOBUF)
    convert(signal, body, decode.JSON)


@FAST
@given(signal=st.sampled_from(sorted(SIGNALS)), data=st.data())
def test_mutated_captures(signal: str, data: st.DataObject) -> None:
    body = bytearray(CAPTURED[signal])
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(body) - 1))
        body[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(body)))
    convert(signal, bytes(body[:cut]) if data.draw(st.booleans()) else bytes(body), decode.PROTOBUF)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(
        ["resourceLogs", "scopeLogs", "logRecords", "attributes", "key", "value", "stringValue", "intValue",
         "traceId", "spanId", "body", "timeUnixNano", "resourceMetrics", "scopeMetrics", "metrics", "sum",
         "dataPoints", "asDouble", "resourceSpans", "scopeSpans", "spans", "arrayValue", "values"]), inner,
        max_size=4),
    max_leaves=30)


@FAST
@given(signal=st.sampled_from(sorted(SIGNALS)), doc=JSON_VALUES)
def test_random_json_shapes(signal: str, doc: object) -> None:
    convert(signal, json.dumps(doc).encode(), decode.JSON)


@pytest.mark.parametrize("signal", ["logs", "metrics"])
def test_captured_json_still_decodes(signal: str) -> None:
    batch, rejected, _ = SIGNALS[signal].decode(JSON_CAPTURED[signal], decode.JSON, RULES)
    assert batch.size > 0 and rejected == 0


PAYLOAD = b"x" * 3000 + bytes(range(256))
RAW_DEFLATE = zlib.compressobj(wbits=-15)
COMPRESSED = {  # every decompression path: (content-encoding, wire body)
    "identity": (None, PAYLOAD),
    "gzip": ("gzip", gzip.compress(PAYLOAD)),
    "x-gzip": ("x-gzip", gzip.compress(PAYLOAD)),
    "gzip-multi-member": ("gzip", gzip.compress(PAYLOAD[:1000]) + gzip.compress(PAYLOAD[1000:])),
    "gzip-many-members": ("gzip", b"".join(gzip.compress(PAYLOAD[i:i + 100]) for i in range(0, len(PAYLOAD), 100))),
    "gzip-empty-member": ("gzip", gzip.compress(b"") + gzip.compress(PAYLOAD)),
    "deflate-zlib": ("deflate", zlib.compress(PAYLOAD)),
    "deflate-raw": ("deflate", RAW_DEFLATE.compress(PAYLOAD) + RAW_DEFLATE.flush()),
}


@pytest.mark.parametrize("case", COMPRESSED)
def test_every_decompression_path_gives_the_whole_body(case: str) -> None:
    encoding, wire = COMPRESSED[case]
    assert decode.decompress(wire, encoding, 1 << 20) == PAYLOAD


REFUSED = {
    "gzip-trailing-garbage": ("gzip", gzip.compress(PAYLOAD) + b"garbage", DecodeError),
    "gzip-trailing-zeros": ("gzip", gzip.compress(PAYLOAD) + b"\x00" * 8, DecodeError),
    "gzip-truncated-second-member": ("gzip", gzip.compress(PAYLOAD) + gzip.compress(PAYLOAD)[:30], DecodeError),
    "deflate-trailing-bytes": ("deflate", zlib.compress(PAYLOAD) + zlib.compress(PAYLOAD), DecodeError),
    "gzip-bomb": ("gzip", gzip.compress(b"\x00" * 5_000_000), PayloadTooLarge),
    "gzip-members-add-up-past-the-limit": ("gzip", gzip.compress(b"\x00" * 600_000) * 2, PayloadTooLarge),
    "identity-too-large": (None, b"\x00" * 1_100_000, PayloadTooLarge),
}


@pytest.mark.parametrize("case", REFUSED)
def test_what_cannot_be_inflated_whole_is_refused(case: str) -> None:
    encoding, wire, error = REFUSED[case]
    with pytest.raises(error):
        decode.decompress(wire, encoding, 1 << 20)


def nested(depth: int) -> bytes:
    value = '{"stringValue":"x"}'
    for _ in range(depth):
        value = '{"kvlistValue":{"values":[{"key":"k","value":' + value + "}]}}"
    return ('{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"key":"a","value":' + value
            + "}]}]}]}]}").encode()


@pytest.mark.parametrize("depth", [300, 100_000])
def test_json_nested_too_deep_is_a_decode_error(depth: int) -> None:
    with pytest.raises(DecodeError, match="nested deeper than 64"):
        SIGNALS["logs"].decode(nested(depth), decode.JSON, RULES)


def test_json_nested_a_little_still_decodes() -> None:
    batch, rejected, _ = SIGNALS["logs"].decode(nested(10), decode.JSON, RULES)
    assert batch.size == 1 and rejected == 0
