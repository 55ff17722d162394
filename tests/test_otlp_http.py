"""OTLP/HTTP receiver: content types, compression, chunked bodies, auth, and every bad-input case.
Bad input gets a clear error, the server keeps serving, and nothing stored before changes."""

from __future__ import annotations

import gzip
import json
import logging
import socket
import time
import zlib

import httpx
import pytest
from google.protobuf.internal.encoder import _VarintBytes
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

import stored
from capture import requests
from otlp_builders import empty_log_records
from test_captures import snapshot

LOGS = requests("http-protobuf")[0]
assert LOGS.signal == "logs"
PB = {"content-type": "application/x-protobuf"}


def post(server, path: str, body: bytes, headers: dict[str, str], port: int | None = None) -> httpx.Response:
    return httpx.post(f"http://127.0.0.1:{port or server.http_port}{path}", content=body, headers=headers,
                      timeout=10)


def rows(server) -> int:
    return sum(stored.counts(server.db_path).values())


def test_protobuf_response_is_a_full_export_response(server) -> None:
    r = post(server, "/v1/logs", LOGS.wire, PB)
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-protobuf"
    resp = ExportLogsServiceResponse.FromString(r.content)
    assert not resp.HasField("partial_success")
    assert rows(server) == 16


def test_json_response_matches_request_type(server) -> None:
    c = requests("http-json")[0]
    r = post(server, f"/v1/{c.signal}", c.wire, {"content-type": "application/json"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == {}


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "deflate-raw"])
def test_compressed_bodies(server, encoding: str) -> None:
    if encoding == "gzip":
        body = gzip.compress(LOGS.wire)
    elif encoding == "deflate":
        body = zlib.compress(LOGS.wire)
    else:
        c = zlib.compressobj(wbits=-15)
        body = c.compress(LOGS.wire) + c.flush()
    r = post(server, "/v1/logs", body, {**PB, "content-encoding": encoding.split("-")[0]})
    assert r.status_code == 200
    assert rows(server) == 16


def test_chunked_body_without_content_length(server) -> None:
    """Claude Code 2.1.191-2.1.211 send transfer-encoding: chunked (raw socket: no client rewrites it)."""
    body = LOGS.wire
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 1000]), body[i:i + 1000]) for i in range(0, len(body), 1000))
    head = (b"POST /v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=10) as s:
        s.sendall(head + chunks + b"0\r\n\r\n")
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200")
    assert rows(server) == 16


def status_of(r: httpx.Response) -> status_pb2.Status:
    if r.headers["content-type"].startswith("application/json"):
        doc = r.json()
        return status_pb2.Status(code=doc.get("code", 0), message=doc.get("message", ""))
    return status_pb2.Status.FromString(r.content)


BAD = {
    "garbage-protobuf": (b"\xff\xff\xff\xff not protobuf", PB, 400, "invalid protobuf"),
    "garbage-json": (b"{not json", {"content-type": "application/json"}, 400, "invalid JSON"),
    "json-not-object": (b"[1,2]", {"content-type": "application/json"}, 400, "must be an object"),
    "json-wrong-shape": (b'{"resourceLogs": 5}', {"content-type": "application/json"}, 400, "OTLP/JSON"),
    "bad-hex-id": (b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"zz!"}]}]}]}',
                   {"content-type": "application/json"}, 400, "trace/span id"),
    "bad-gzip": (b"\x1f\x8bnot really gzip", {**PB, "content-encoding": "gzip"}, 400, "invalid gzip"),
    "truncated-gzip": (gzip.compress(b"x" * 1000)[:20], {**PB, "content-encoding": "gzip"}, 400, "truncated"),
    "unknown-encoding": (b"abc", {**PB, "content-encoding": "br"}, 415, "content-encoding"),
    "unknown-type": (b"abc", {"content-type": "text/plain"}, 415, "content-type"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_a_clear_permanent_error(server, case: str) -> None:
    post(server, "/v1/logs", LOGS.wire, PB)
    before = snapshot(server.db_path)
    body, headers, code, words = BAD[case]
    r = post(server, "/v1/logs", body, headers)
    assert r.status_code == code
    assert words in status_of(r).message
    assert "retry-after" not in r.headers
    assert snapshot(server.db_path) == before
    assert post(server, "/v1/logs", requests("grpc")[0].wire, PB).status_code == 200  # still serving


def test_too_large_after_decompression_is_413(server_factory) -> None:
    server = server_factory(max_body_bytes=50_000)
    bomb = gzip.compress(b"\x00" * 10_000_000)  # ~10 KB on the wire, 10 MB inflated
    r = post(server, "/v1/logs", bomb, {**PB, "content-encoding": "gzip"})
    assert r.status_code == 413 and "limit of 50000" in status_of(r).message
    r = post(server, "/v1/logs", b"\x00" * 60_000, PB)
    assert r.status_code == 413
    assert post(server, "/v1/logs", LOGS.wire, PB).status_code == 200
    assert rows(server) == 16


def test_unknown_json_fields_are_ignored(server) -> None:
    body = (b'{"resourceLogs":[{"futureField":1,"scopeLogs":[{"logRecords":[{"timeUnixNano":"1795796355090000000",'
            b'"body":{"stringValue":"claude_code.x"},"attributes":[{"key":"event.name","value":{"stringValue":"x"}},'
            b'{"key":"n","value":{"intValue":"7"}}],"newThing":{"a":1}}]}]}]}')
    r = post(server, "/v1/logs", body, {"content-type": "application/json"})
    assert r.status_code == 200
    [(name, attributes)] = stored.rows(server.db_path, "SELECT event_name, custom_attributes FROM events")
    assert (name, json.loads(attributes)["n"]) == ("claude_code.x", 7)


def test_bearer_token_percent_encoded_or_not(server_factory) -> None:
    server = server_factory(auth_token="static-token")
    assert post(server, "/v1/logs", LOGS.wire, PB).status_code == 401
    assert post(server, "/v1/logs", LOGS.wire, {**PB, "authorization": "Bearer wrong"}).status_code == 401
    assert post(server, "/v1/logs", LOGS.wire, {**PB, "authorization": "Bearer%20static-token"}).status_code == 200
    assert post(server, "/v1/logs", LOGS.wire, {**PB, "authorization": "Bearer static-token"}).status_code == 200
    assert rows(server) == 16


def test_wrong_method_and_path(server) -> None:
    assert httpx.get(f"http://127.0.0.1:{server.http_port}/v1/logs").status_code == 405
    assert post(server, "/v1/nothing", LOGS.wire, PB).status_code == 404


def test_multi_member_gzip_stores_every_member(server) -> None:
    """gzip(A) + gzip(B) is one valid gzip body: both halves' records are stored, not just A's."""
    first, second = requests("http-protobuf")[0], requests("grpc")[0]
    assert first.signal == second.signal == "logs"
    body = gzip.compress(first.wire) + gzip.compress(second.wire)
    # two requests' bytes concatenated are one valid protobuf request holding both (repeated fields append)
    r = post(server, "/v1/logs", body, {**PB, "content-encoding": "gzip"})
    assert r.status_code == 200
    assert rows(server) == 16 + 16


def test_amplification_body_is_refused_before_decoding(server) -> None:
    wire = gzip.compress(empty_log_records(524_000), 9)
    assert len(wire) < 1100  # ~1 KB on the wire, 1 MB of half a million empty log records inflated
    r = post(server, "/v1/logs", wire, {**PB, "content-encoding": "gzip"})
    assert r.status_code == 413 and "more than 20000 records" in status_of(r).message
    assert "retry-after" not in r.headers
    assert rows(server) == 0
    assert httpx.get(server.url("/health"), timeout=10).status_code == 200
    assert post(server, "/v1/logs", LOGS.wire, PB).status_code == 200


def test_record_limit_is_a_setting(server_factory) -> None:
    server = server_factory(max_records_per_request=17)  # the capture: 1 resource, 1 scope, 16 records = 18
    r = post(server, "/v1/logs", LOGS.wire, PB)
    assert r.status_code == 413 and "more than 17 records" in status_of(r).message
    assert rows(server) == 0


def test_json_nested_900_deep_is_400_not_retryable(server) -> None:
    value = '{"stringValue":"x"}'
    for _ in range(900):
        value = '{"arrayValue":{"values":[' + value + "]}}"
    body = ('{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":' + value + "}]}]}]}").encode()
    r = post(server, "/v1/logs", body, {"content-type": "application/json"})
    assert r.status_code == 400 and "nested deeper than 64" in status_of(r).message
    assert "retry-after" not in r.headers
    r = post(server, "/v1/logs", b"[" * 200_000 + b"]" * 200_000, {"content-type": "application/json"})
    assert r.status_code == 400


def padding(size: int) -> bytes:
    """A valid ExportLogsServiceRequest of `size` bytes holding only an unknown field: 0 records."""
    return b"\x1a" + _VarintBytes(size) + b"p" * size


def test_bodies_still_arriving_count_against_the_inflight_budget(server_factory) -> None:
    server = server_factory(max_inflight_bytes=1_000_000, max_body_bytes=900_000)
    head = (b"POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
            b"Content-Length: 800000\r\n\r\n")
    stalled = socket.create_connection(("127.0.0.1", server.http_port), timeout=10)
    try:
        stalled.sendall(head + b"p" * 700_000)  # all but 100 KB: held while it is being received
        refused = None
        deadline = time.monotonic() + 10
        while refused is None and time.monotonic() < deadline:
            r = post(server, "/v1/logs", padding(400_000), PB)
            if r.status_code == 503:
                refused = r
            time.sleep(0.05)
        assert refused is not None, "a body still being received did not count against the budget"
        assert refused.headers["retry-after"] and "already held" in status_of(refused).message
    finally:
        stalled.close()
    deadline = time.monotonic() + 10
    while (r := post(server, "/v1/logs", padding(400_000), PB)).status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert r.status_code == 200  # released when the stalled sender went away


def test_a_client_hanging_up_mid_body_is_one_debug_line(server, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    head = (b"POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
            b"Content-Length: 100000\r\n\r\n")
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", server.http_port), timeout=10) as s:
            s.sendall(head + b"p" * 5000)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [r for r in caplog.records if "went away" in r.getMessage()]
        if len(lines) == 3:
            break
        time.sleep(0.05)
    assert [r.levelname for r in lines] == ["DEBUG"] * 3
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert post(server, "/v1/logs", LOGS.wire, PB).status_code == 200


@pytest.mark.parametrize("header", ["Bearer x%41y", "Bearer%20x%41y", "bearer   x%41y"])
def test_a_token_holding_a_percent_sign_matches_as_sent(server_factory, header: str) -> None:
    server = server_factory(auth_token="x%41y")
    assert post(server, "/v1/logs", LOGS.wire, {**PB, "authorization": header}).status_code == 200
    assert post(server, "/v1/logs", LOGS.wire, {**PB, "authorization": "Bearer xAy"}).status_code == 401
    assert httpx.get(server.url("/stats"), headers={"authorization": header}, timeout=10).status_code == 200
