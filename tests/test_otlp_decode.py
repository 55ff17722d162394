"""decode + convert never fail on input with anything but our own errors (400/413/415 family):
random bytes, mutated real captures, and random JSON shapes."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capture import requests
from ccmonitor.errors import InputError
from ccmonitor.ingest import Ingest
from ccmonitor.otlp import decode
from ccmonitor.otlp.signals import SIGNALS

INGEST = Ingest(store=None)  # type: ignore[arg-type]  # decode only: nothing is stored
CAPTURED = {c.signal: c.wire for c in requests("http-protobuf")}
CAPTURED["traces"] = next(c.wire for c in requests("traces-grpc") if c.signal == "traces")
JSON_CAPTURED = {c.signal: c.wire for c in requests("http-json")}
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def convert(signal: str, body: bytes, media_type: str) -> None:
    with contextlib.suppress(InputError):  # anything else fails the test
        INGEST.decode(SIGNALS[signal], body, media_type)


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
    batch, rejected, _ = INGEST.decode(SIGNALS[signal], JSON_CAPTURED[signal], decode.JSON)
    assert batch.size > 0 and rejected == 0
