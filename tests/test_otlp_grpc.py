"""OTLP/gRPC receiver: the three services, compression, metadata auth, and bad input codes."""

from __future__ import annotations

import grpc
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse

from capture import GRPC_METHOD, requests, snapshot_rows
from locking import GIVE_UP, write_lock
from otlp_builders import empty_log_records


def call(port: int, signal: str, body: bytes, **kw: object) -> bytes:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        return channel.unary_unary(GRPC_METHOD[signal])(body, timeout=10, **kw)


def test_export_returns_a_full_response(server) -> None:
    metrics = next(c for c in requests("grpc") if c.signal == "metrics")
    resp = ExportMetricsServiceResponse.FromString(call(server.grpc_port, "metrics", metrics.wire))
    assert not resp.HasField("partial_success")
    assert snapshot_rows(server.db_path)["metrics"] == 10


def test_gzip_compressed_messages(server) -> None:
    for c in requests("grpc-gzip"):
        call(server.grpc_port, c.signal, c.wire, compression=grpc.Compression.Gzip)
    assert snapshot_rows(server.db_path) == {"metrics": 10, "events": 16, "spans": 0}


def test_undecodable_is_invalid_argument(server) -> None:
    with pytest.raises(grpc.RpcError) as info:
        call(server.grpc_port, "logs", b"\xff\xff\xff garbage")
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "invalid protobuf" in info.value.details()
    assert snapshot_rows(server.db_path) == {"metrics": 0, "events": 0, "spans": 0}


def test_too_large_is_resource_exhausted(server_factory) -> None:
    server = server_factory(max_body_bytes=1000)
    logs = next(c for c in requests("grpc") if c.signal == "logs")
    assert logs.signal == "logs" and len(logs.wire) > 1000
    with pytest.raises(grpc.RpcError) as info:
        call(server.grpc_port, "logs", logs.wire)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_metadata_token(server_factory) -> None:
    server = server_factory(auth_token="static-token")
    logs = next(c for c in requests("grpc") if c.signal == "logs")
    with pytest.raises(grpc.RpcError) as info:
        call(server.grpc_port, "logs", logs.wire)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    call(server.grpc_port, "logs", logs.wire, metadata=(("authorization", "Bearer static-token"),))
    assert snapshot_rows(server.db_path)["events"] == 16


def test_locked_database_is_unavailable_then_the_retry_lands(server_factory, backend: str) -> None:
    server = server_factory(**GIVE_UP[backend])
    logs = next(c for c in requests("grpc") if c.signal == "logs")
    with write_lock(server.db_path), pytest.raises(grpc.RpcError) as info:
        call(server.grpc_port, "logs", logs.wire)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    call(server.grpc_port, "logs", logs.wire)
    assert snapshot_rows(server.db_path)["events"] == 16


def test_deflate_compressed_messages(server) -> None:
    for c in requests("grpc"):
        call(server.grpc_port, c.signal, c.wire, compression=grpc.Compression.Deflate)
    assert snapshot_rows(server.db_path) == {"metrics": 10, "events": 16, "spans": 0}


def test_more_records_than_the_limit_is_refused_whole(server) -> None:
    """Half a million empty log records in 1 MB (a few KB with gzip): refused before decoding."""
    with pytest.raises(grpc.RpcError) as info:
        call(server.grpc_port, "logs", empty_log_records(524_000), compression=grpc.Compression.Gzip)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "more than 20000 records" in info.value.details()
    assert snapshot_rows(server.db_path) == {"metrics": 0, "events": 0, "spans": 0}
