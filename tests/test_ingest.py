"""Ingest through a real server: acknowledged means committed, overload and a locked database are
503 + Retry-After (never a silent drop), partial success, and prompt privacy."""

from __future__ import annotations

import json
import random
import re
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric

import stored
from capture import replay_scenario, requests, snapshot_rows
from ccmonitor.store import is_url
from ccmonitor.store.postgres import text as postgres_text
from locking import GIVE_UP, PATIENT, write_lock
from otlp_builders import DELTA, MEDIA, T0, event_request, post_export, sum_request

PB = {"content-type": "application/x-protobuf"}


def post(server, signal: str, body: bytes) -> httpx.Response:
    return httpx.post(f"http://127.0.0.1:{server.http_port}/v1/{signal}", content=body, headers=PB, timeout=30)


def test_acknowledged_rows_are_already_committed(server) -> None:
    for i in range(20):
        body = event_request([{"event.name": "user_prompt", "prompt": f"p{i}", "session.id": "s"}]).SerializeToString()
        assert post(server, "logs", body).status_code == 200
        assert stored.scalar(server.db_path, "SELECT COUNT(*) FROM events") == i + 1  # a fresh reader sees it


def test_identical_records_in_one_request_are_two_records(server) -> None:
    same = {"event.name": "tool_result", "tool_name": "Bash", "_time": T0}
    body = event_request([same, same]).SerializeToString()
    assert post(server, "logs", body).status_code == 200
    assert post(server, "logs", body).status_code == 200  # the resend adds nothing
    assert snapshot_rows(server.db_path)["events"] == 2


def test_locked_database_is_503_with_retry_after(server_factory, backend: str) -> None:
    server = server_factory(**GIVE_UP[backend])
    with write_lock(server.db_path):
        r = post(server, "logs", requests("http-protobuf")[0].wire)
        assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
        assert httpx.get(server.url("/health")).status_code == 503
    assert post(server, "logs", requests("http-protobuf")[0].wire).status_code == 200  # the retry lands
    assert snapshot_rows(server.db_path)["events"] == 16
    assert httpx.get(server.url("/health")).status_code == 200


def test_full_queue_is_503_not_a_silent_drop(server_factory, backend: str) -> None:
    server = server_factory(queue_max_records=20, **PATIENT[backend])
    answers: list[tuple[int, int, str]] = []
    bodies = [event_request([{"event.name": "x", "n": i * 100 + j} for j in range(16)]).SerializeToString()
              for i in range(4)]

    def send(i: int) -> None:
        r = post(server, "logs", bodies[i])
        answers.append((i, r.status_code, r.text))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
    with write_lock(server.db_path):  # the writer stalls, so the queue fills
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    full = [i for i, status, text in answers if status == 503 and "queue full" in text]
    assert len(full) >= 3  # one batch fits the queue (and waits on the lock); the rest are refused at once
    stored_ns = {int(json.loads(attrs)["n"])
                 for (attrs,) in stored.rows(server.db_path, "SELECT custom_attributes FROM events")}
    assert not stored_ns & {i * 100 + j for i in full for j in range(16)}  # refused means not stored
    for i, status, _ in answers:
        if status == 200:
            assert {i * 100 + j for j in range(16)} <= stored_ns  # acknowledged means stored
    # The batch that waited may answer 503 (its commit outlasted the wait) and still commit once the
    # lock goes: the client's resend of everything then stores each record exactly once.
    assert all(post(server, "logs", body).status_code == 200 for body in bodies)
    assert snapshot_rows(server.db_path)["events"] == 64


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
    [row] = stored.rows(server.db_path, "SELECT prompt, prompt_length, custom_attributes FROM events"
                                        " WHERE event_name='claude_code.user_prompt'")
    assert row[0] is None and row[1] == 33
    assert "REDACTED" not in row[2]  # prompt_text, a duplicate of prompt, goes with it


def test_store_prompts_off_keeps_no_prompt_text_anywhere(server_factory) -> None:
    server = server_factory(store_prompts=False)
    for scenario in ("http-protobuf", "traces-grpc"):
        replay_scenario(scenario, server.ports)
    assert "create hello.txt then run echo hi" not in dump(server.db_path)
    assert snapshot_rows(server.db_path)["events"] == 32


NUL_KEPT_AS = {"sqlite": "\x00", "postgres": "\ufffd"}


@pytest.mark.parametrize("encoding", MEDIA)
def test_a_nul_in_text_is_stored_not_refused_forever(server, backend: str, encoding: str) -> None:
    """U+0000 anywhere a sender may put text: SQLite keeps it as sent; PostgreSQL's text and jsonb cannot
    hold it, so U+FFFD (the replacement character) stands in for it there. Either way the request is
    stored, and its resend is recognised as one."""
    text = "a\x00b"
    resource = {"service.name": "claude-code", "team": text}
    logs = event_request([{"event.name": "user_prompt", "session.id": "s\x00", "prompt": text, "note": text,
                           "key\x00": 1}], resource=resource)
    metrics = sum_request([(T0, T0 + 1, 5.0)], temporality=DELTA, attrs={"type": text, "session.id": "s\x00"},
                          resource=resource)
    for _ in range(2):
        post_export(server.http_port, "logs", logs, encoding, ExportLogsServiceResponse)
        post_export(server.http_port, "metrics", metrics, encoding, ExportMetricsServiceResponse)
    kept = NUL_KEPT_AS[backend]
    db = server.db_path
    [(session, prompt, attributes)] = stored.rows(db, "SELECT session_id, prompt, custom_attributes FROM events")
    assert (session, prompt) == (f"s{kept}", f"a{kept}b")
    assert {k: v for k, v in json.loads(attributes).items() if k in ("note", f"key{kept}", "team")} == {
        "note": f"a{kept}b", f"key{kept}": 1, "team": f"a{kept}b"}
    [(kind, attributes)] = stored.rows(db, "SELECT type, custom_attributes FROM metrics")
    assert kind == f"a{kept}b" and json.loads(attributes)["team"] == f"a{kept}b"
    assert [json.loads(a) for (a,) in stored.rows(db, "SELECT attributes FROM attribute_sets")] == [
        {"team": f"a{kept}b"}]
    assert stored.rows(db, "SELECT session FROM session_attribute_sets") == [(f"s{kept}",)]
    assert stored.rows(db, "SELECT session_id FROM rollup_sessions") == [(f"s{kept}",)]


@pytest.mark.parametrize("sent", [
    {"k": "a\x00b"}, {"k\x00": 1}, {"k": "\\u0000 typed as text"}, {"k": "\\\x00"}, {"k": "\\\\u0000"},
    {"k": ["\x00", {"\x00": "\x00\x00"}]}, {"k": "no nul"},
], ids=["value", "key", "escape-as-text", "backslash-then-nul", "backslashes-then-text", "nested", "none"])
def test_json_text_for_postgres_replaces_each_nul_and_nothing_else(sent: object) -> None:
    def replaced(value: object) -> object:
        if isinstance(value, str):
            return value.replace("\x00", "\ufffd")
        if isinstance(value, list):
            return [replaced(v) for v in value]
        if isinstance(value, dict):
            return {replaced(k): replaced(v) for k, v in value.items()}
        return value

    for ascii_only in (True, False):
        assert json.loads(postgres_text.json_text(json.dumps(sent, ensure_ascii=ascii_only))) == replaced(sent)


def long_text(seed: str, n: int = 10_000) -> str:
    """Incompressible text of n characters, some of them 4 bytes in UTF-8."""
    rng = random.Random(seed)
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789😀") for _ in range(n))


KEY_ATTRIBUTES = {  # attribute -> the event column it lands in (an index or a rollup keys on each)
    "session.id": "session_id", "user.email": "user_email", "terminal.type": "terminal_type", "model": "model",
    "tool_name": "tool_name", "success": "success", "decision": "decision", "prompt.id": "prompt_id"}


def test_over_long_key_texts_are_stored_not_refused_forever(server, backend: str) -> None:
    """10 KB in a column that an index or a rollup's key holds: SQLite keeps it as sent; PostgreSQL, whose
    index entries hold at most 2704 bytes, keeps its beginning, "…" and a digest of all of it, so that
    different values stay different and the same value reads the same in every table."""
    sent = {attribute: long_text(attribute) for attribute in KEY_ATTRIBUTES}
    name = long_text("event name", 3000)
    logs = event_request([{"event.name": "api_request", **sent},
                          {"event.name": "api_request", **sent, "model": sent["model"] + "!"},
                          {"event.name": name, "session.id": sent["session.id"]}])
    metrics = sum_request([(T0, T0 + 1, 5.0)], temporality=DELTA, name=long_text("metric name"), attrs={
        "session.id": sent["session.id"], "model": sent["model"], "type": long_text("type"),
        "tool_name": long_text("tool"), "decision": sent["decision"], "language": long_text("language")})
    for _ in range(2):  # the resend is recognised
        assert post(server, "logs", logs.SerializeToString()).status_code == 200
        assert post(server, "metrics", metrics.SerializeToString()).status_code == 200
    db = server.db_path
    assert snapshot_rows(db) == {"metrics": 1, "events": 3, "spans": 0}

    def check(stored_value: str, value: str) -> None:
        if backend == "sqlite":
            assert stored_value == value
        else:
            assert len(stored_value.encode()) <= 400 and stored_value[:-17] == value[:len(stored_value) - 17]
            assert re.fullmatch(r"…[0-9a-f]{16}", stored_value[-17:]), stored_value[-17:]

    columns = ", ".join(KEY_ATTRIBUTES.values())
    first, second = stored.rows(db, f"SELECT {columns} FROM events WHERE event_name = 'claude_code.api_request'"
                                    " ORDER BY timestamp")
    for value, got in zip(sent.values(), first, strict=True):
        check(got, value)
    assert second[3] != first[3] and second[:3] == first[:3]  # one character more, another model
    check(second[3], sent["model"] + "!")
    [(event_name, session)] = stored.rows(db, "SELECT event_name, session_id FROM events WHERE event_name NOT LIKE"
                                              " 'claude_code.api%'")
    check(event_name, "claude_code." + name)
    assert session == first[0]
    [metric] = stored.rows(db, "SELECT metric_name, session_id, model, type, tool, decision, language FROM metrics")
    check(metric[0], metrics.resource_metrics[0].scope_metrics[0].metrics[0].name)
    assert metric[1:3] == (first[0], first[3]) and metric[5] == first[6]  # the same value, shortened the same
    for got, seed in zip((metric[3], metric[4], metric[6]), ("type", "tool", "language"), strict=True):
        check(got, long_text(seed))
    assert stored.rows(db, "SELECT session_id FROM rollup_sessions") == []  # no user_prompt, no session count
    everything = {"range": "custom", "from": "2026-01-01T00:00:00Z", "to": "2027-01-01T00:00:00Z"}
    overview = httpx.get(server.url("/api/overview"), params=everything, timeout=30)
    assert overview.status_code == 200 and overview.json()["panels"]["tiles"]["api_requests"] == 2


def dump(db: Path | str) -> str:
    """Everything stored, as text: SQLite's .dump, or every row of every PostgreSQL table."""
    if not is_url(db):
        with closing(sqlite3.connect(db)) as conn:
            return "\n".join(conn.iterdump())
    tables = [t for (t,) in stored.rows(db, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
    assert {"events", "spans", "attribute_sets", "rollup_sessions"} <= set(tables)
    return "\n".join(row for t in tables for (row,) in stored.rows(db, f"SELECT t::text FROM {t} t"))
