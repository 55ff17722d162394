"""Ingest through a real server: acknowledged means committed, overload and a locked database are
503 + Retry-After (never a silent drop), partial success, and prompt privacy."""

from __future__ import annotations

import sqlite3
import threading

import httpx
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric

from capture import requests, snapshot_rows
from otlp_builders import T0, event_request, sum_request

PB = {"content-type": "application/x-protobuf"}


def post(server, signal: str, body: bytes) -> httpx.Response:
    return httpx.post(f"http://127.0.0.1:{server.http_port}/v1/{signal}", content=body, headers=PB, timeout=30)


def test_acknowledged_rows_are_already_committed(server) -> None:
    for i in range(20):
        body = event_request([{"event.name": "user_prompt", "prompt": f"p{i}", "session.id": "s"}]).SerializeToString()
        assert post(server, "logs", body).status_code == 200
        conn = sqlite3.connect(server.db_path)  # a fresh reader sees it at once
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == i + 1
        conn.close()


def test_identical_records_in_one_request_are_two_records(server) -> None:
    same = {"event.name": "tool_result", "tool_name": "Bash", "_time": T0}
    body = event_request([same, same]).SerializeToString()
    assert post(server, "logs", body).status_code == 200
    assert post(server, "logs", body).status_code == 200  # the resend adds nothing
    assert snapshot_rows(server.db_path)["events"] == 2


def test_locked_database_is_503_with_retry_after(server_factory) -> None:
    server = server_factory(busy_timeout_ms=200)
    blocker = sqlite3.connect(server.db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        r = post(server, "logs", requests("http-protobuf")[0].wire)
        assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
        assert httpx.get(server.url("/health")).status_code == 503
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert post(server, "logs", requests("http-protobuf")[0].wire).status_code == 200  # the retry lands
    assert snapshot_rows(server.db_path)["events"] == 16
    assert httpx.get(server.url("/health")).status_code == 200


def test_full_queue_is_503_not_a_silent_drop(server_factory) -> None:
    server = server_factory(queue_max_records=20, busy_timeout_ms=3000)
    blocker = sqlite3.connect(server.db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # the writer stalls, so the queue fills
    results: list[int] = []
    bodies = [event_request([{"event.name": "x", "n": i * 100 + j} for j in range(16)]).SerializeToString()
              for i in range(4)]
    threads = [threading.Thread(target=lambda b=b: results.append(post(server, "logs", b).status_code))
               for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    blocker.execute("ROLLBACK")
    blocker.close()
    assert results.count(503) >= 3  # one batch fits the queue (and then waits out the lock); the rest are refused
    stored = snapshot_rows(server.db_path)["events"]
    assert stored == 16 * results.count(200)


def test_partial_success_counts_rejected_points(server) -> None:
    req = sum_request([(T0, T0 + 1, 5.0)])
    req.resource_metrics[0].scope_metrics[0].metrics.append(Metric(name="empty"))
    bad = req.resource_metrics[0].scope_metrics[0].metrics[0].sum.data_points.add()
    bad.time_unix_nano, bad.as_double = T0 + 2, float("nan")
    r = post(server, "metrics", req.SerializeToString())
    assert r.status_code == 200
    resp = ExportMetricsServiceResponse.FromString(r.content)
    assert resp.partial_success.rejected_data_points == 2
    assert "no data" in resp.partial_success.error_message
    assert snapshot_rows(server.db_path)["metrics"] == 1


def test_redacted_prompt_is_null_with_length_kept(server) -> None:
    for c in requests("redacted-defaults"):
        post(server, c.signal, c.wire)
    conn = sqlite3.connect(server.db_path)
    row = conn.execute("SELECT prompt, prompt_length, custom_attributes FROM events"
                       " WHERE event_name='claude_code.user_prompt'").fetchone()
    assert row[0] is None and row[1] == 33
    assert "REDACTED" not in row[2]  # prompt_text, a duplicate of prompt, goes with it


def test_store_prompts_off_keeps_no_prompt_text_anywhere(server_factory) -> None:
    server = server_factory(store_prompts=False)
    for scenario in ("http-protobuf", "traces-grpc"):
        from capture import replay_scenario
        replay_scenario(scenario, server.ports)
    dump = "\n".join(sqlite3.connect(server.db_path).iterdump())
    assert "create hello.txt then run echo hi" not in dump
    assert snapshot_rows(server.db_path)["events"] == 32
