"""The PostgreSQL writer on real databases: the captures give the same totals and request results as
SQLite; a resend stores nothing, through either of two receivers; cumulative series stay exact when
consecutive exports land on different receivers; the rollups equal GROUP BYs of the rows, also after
two receivers hammered the same rollup rows; an unreachable server is 503 and the writer recovers."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from google.protobuf.message import Message

from capture import ALL, Captured, requests
from ccmonitor.errors import Overloaded, StoreBusy
from ccmonitor.otlp import decode
from ccmonitor.otlp.signals import SIGNALS
from ccmonitor.records import Batch, StoreResult
from ccmonitor.store.postgres import PostgresStore
from ccmonitor.store.postgres.writer import redact
from ccmonitor.store.sqlite import SqliteStore
from otlp_builders import DELTA, T0, event_request, sum_request
from postgres_cluster import start_throwaway

S = 1_000_000_000


def decoded(c: Captured) -> Batch:
    """A captured request as the receivers hand it to the store."""
    media = decode.PROTOBUF if c.transport in ("grpc", "httpproto") else decode.JSON
    encoding = None if c.transport == "grpc" else c.headers.get("content-encoding")
    signal = SIGNALS[c.signal]
    message = decode.parse(decode.decompress(c.wire, encoding, 1 << 30), media, signal.request_type, signal.name,
                           1_000_000)
    return signal.to_batch(message, True)[0]


def batch_of(signal: str, message: Message) -> Batch:
    return SIGNALS[signal].to_batch(message, True)[0]


def captured_batches() -> list[Batch]:
    return [decoded(c) for scenario in ALL for c in requests(scenario)]


def store_all(store: PostgresStore | SqliteStore, batches: list[Batch]) -> list[StoreResult]:
    return [store.submit(b).result(60) for b in batches]


def pg_rows(url: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        return [tuple(r) for r in conn.execute(sql, params).fetchall()]


def totals_pg(url: str) -> dict[str, object]:
    return {
        "metrics": {(n, t): pytest.approx(v) for n, t, v in pg_rows(
            url, "SELECT metric_name, COALESCE(type, ''), SUM(metric_value) FROM metrics GROUP BY 1, 2")},
        "events": dict(pg_rows(url, "SELECT event_name, COUNT(*) FROM events GROUP BY 1")),
        "spans": pg_rows(url, "SELECT COUNT(*) FROM spans")[0][0],
    }


def totals_sqlite(db: Path) -> dict[str, object]:
    conn = sqlite3.connect(db)
    try:
        return {
            "metrics": {(n, t): v for n, t, v in conn.execute(
                "SELECT metric_name, COALESCE(type, ''), SUM(metric_value) FROM metrics GROUP BY 1, 2")},
            "events": dict(conn.execute("SELECT event_name, COUNT(*) FROM events GROUP BY 1").fetchall()),
            "spans": conn.execute("SELECT COUNT(*) FROM spans").fetchone()[0],
        }
    finally:
        conn.close()


# What every rollup must hold: the same GROUP BY over the raw rows (store/postgres/schema.py).
BUCKET = ("(CASE WHEN duration_ms < 100 THEN duration_ms ELSE length(duration_ms::text) * 100"
          " + substr(duration_ms::text, 1, 2)::integer END)")
DURATION_KEY = "COALESCE(CASE event_name WHEN 'claude_code.api_request' THEN model ELSE tool_name END, '')"
TIMED = "event_name IN ('claude_code.api_request', 'claude_code.tool_result') AND duration_ms IS NOT NULL"
HOUR = "date_trunc('hour', timestamp, 'UTC')"
DAY = "(timestamp AT TIME ZONE 'UTC')::date"
M_KEYS = "metric_name, COALESCE(type, ''), COALESCE(model, ''), COALESCE(tool, ''), COALESCE(decision, ''), " \
         "COALESCE(language, '')"
E_KEYS = "event_name, COALESCE(model, ''), COALESCE(tool_name, ''), COALESCE(success, ''), COALESCE(decision, '')"
EXPECTED = {
    "rollup_metrics": (f"SELECT {HOUR}, {M_KEYS}, SUM(metric_value), COUNT(*) FROM metrics"
                       " GROUP BY 1, 2, 3, 4, 5, 6, 7", 7),
    "rollup_metrics_sets": (f"SELECT attribute_set, {HOUR}, {M_KEYS}, SUM(metric_value), COUNT(*) FROM metrics"
                            " WHERE attribute_set != 0 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8", 8),
    "rollup_metrics_users": (f"SELECT {HOUR}, COALESCE(user_email, account_uuid, user_id, ''), metric_name,"
                             " COALESCE(model, ''), attribute_set, SUM(metric_value), COUNT(*) FROM metrics"
                             " WHERE metric_name IN ('claude_code.cost.usage', 'claude_code.token.usage')"
                             " GROUP BY 1, 2, 3, 4, 5", 5),
    "rollup_events": (f"SELECT {HOUR}, {E_KEYS}, COUNT(*), COUNT(*) FROM events GROUP BY 1, 2, 3, 4, 5, 6", 6),
    "rollup_events_sets": (f"SELECT attribute_set, {HOUR}, {E_KEYS}, COUNT(*), COUNT(*) FROM events"
                           " WHERE attribute_set != 0 GROUP BY 1, 2, 3, 4, 5, 6, 7", 7),
    "rollup_durations": (f"SELECT {DAY}, event_name, {DURATION_KEY}, {BUCKET}, COUNT(*), COUNT(*) FROM events"
                         f" WHERE {TIMED} GROUP BY 1, 2, 3, 4", 4),
    "rollup_durations_sets": (f"SELECT attribute_set, {DAY}, event_name, {DURATION_KEY}, {BUCKET}, COUNT(*), COUNT(*)"
                              f" FROM events WHERE {TIMED} AND attribute_set != 0 GROUP BY 1, 2, 3, 4, 5", 5),
    "rollup_sessions": ("SELECT session_id, MIN(ts), MAX(ts) FROM (SELECT session_id, timestamp AS ts FROM events"
                        " WHERE event_name = 'claude_code.user_prompt' UNION ALL SELECT session_id, timestamp FROM"
                        " metrics WHERE metric_name IN ('claude_code.session.count', 'claude_code.active_time.total'))"
                        " marks WHERE session_id IS NOT NULL GROUP BY 1", 1),
}


def rollup_mismatches(url: str) -> dict[str, tuple[object, object]]:
    """The rollups that differ from the GROUP BY of the rows they sum (empty: all exact)."""
    wrong: dict[str, tuple[object, object]] = {}
    for table, (sql, n_keys) in EXPECTED.items():
        stored_sql = ("SELECT session_id, first_ts, last_ts FROM rollup_sessions" if table == "rollup_sessions"
                      else f"SELECT * FROM {table}")
        expected = {r[:n_keys]: r[n_keys:] if table == "rollup_sessions" else pytest.approx(r[n_keys:])
                    for r in pg_rows(url, sql)}
        stored = {r[:n_keys]: r[n_keys:] for r in pg_rows(url, stored_sql)}
        if stored != expected:
            wrong[table] = (stored, expected)
    return wrong


def test_captures_give_sqlites_results_and_totals(pg: PostgresStore, postgres_url: str, tmp_path: Path) -> None:
    batches = captured_batches()
    lite = SqliteStore(tmp_path / "lite.db")
    try:
        lite_results = store_all(lite, batches)
    finally:
        lite.close()
    assert store_all(pg, batches) == lite_results
    assert totals_pg(postgres_url) == totals_sqlite(tmp_path / "lite.db")
    assert rollup_mismatches(postgres_url) == {}
    assert pg.last_commit.keys() == {"logs", "metrics", "traces"}


def test_a_resend_through_either_receiver_stores_nothing(pg: PostgresStore, postgres_url: str) -> None:
    batches = captured_batches()
    store_all(pg, batches)
    before = totals_pg(postgres_url), pg_rows(postgres_url, "SELECT COUNT(*) FROM rollup_events")
    other = PostgresStore(postgres_url)
    try:
        for receiver in (pg, other):
            assert store_all(receiver, batches) == [StoreResult(0, b.size) for b in batches]
    finally:
        other.close()
    assert (totals_pg(postgres_url), pg_rows(postgres_url, "SELECT COUNT(*) FROM rollup_events")) == before
    assert rollup_mismatches(postgres_url) == {}


def cumulative_exports() -> list[Batch]:
    """Two sessions' running token counts, with a reset by a drop, a new start time, a zero step and
    stale retries, one point per export."""
    out = []
    for session, values in (("s1", [100.0, 250.0, 250.0, 400.0, 30.0, 90.0]), ("s2", [5.0, 7.0, 7.0, 20.0])):
        for i, v in enumerate(values):
            start = T0 if i < 4 else T0 + 100 * S
            out.append(batch_of("metrics", sum_request([(start, T0 + (i + 1) * S, v)],
                                                        attrs={"type": "input", "session.id": session})))
    out.append(batch_of("metrics", sum_request([(T0, T0 + 2 * S, 250.0)])))  # stale retry of s1
    return out


@pytest.mark.parametrize("receivers", [1, 2, 3], ids=["one-receiver", "two-receivers", "three-receivers"])
def test_cumulative_series_are_exact_across_receivers(postgres_url: str, receivers: int) -> None:
    stores = [PostgresStore(postgres_url) for _ in range(receivers)]
    try:
        results = [stores[i % receivers].submit(b).result(30) for i, b in enumerate(cumulative_exports())]
    finally:
        for store in stores:
            store.close()
    # s1: 100, +150, zero step (no row), +150, new start: 30, +60; s2: 5, +2, zero, +13
    assert pg_rows(postgres_url, "SELECT session_id, SUM(metric_value), COUNT(*) FROM metrics GROUP BY 1 ORDER BY 1") \
        == [("s1", 490.0, 5), ("s2", 20.0, 3)]
    assert [r.duplicates for r in results] == [0] * 10 + [1]
    assert rollup_mismatches(postgres_url) == {}


def test_series_state_is_read_under_the_lock_not_cached(postgres_url: str) -> None:
    """Receiver A stores a point, B advances the series, A gets the next point: A must see B's state."""
    a, b = PostgresStore(postgres_url), PostgresStore(postgres_url)
    try:
        for store, (t, v) in zip((a, b, a, b), ((1, 10.0), (2, 25.0), (3, 40.0), (3, 40.0)), strict=True):
            store.submit(batch_of("metrics", sum_request([(T0, T0 + t * S, v)]))).result(30)
    finally:
        a.close()
        b.close()
    assert pg_rows(postgres_url, "SELECT SUM(metric_value) FROM metrics") == [(40.0,)]


def busy_events(writer: int, n: int, per_batch: int) -> list[Batch]:
    """Events that all fall into the same few rollup rows (two hours, two models, one set)."""
    return [batch_of("logs", event_request(
        [{"event.name": "api_request", "session.id": f"w{writer}", "model": f"m{i % 2}", "duration_ms": 100 + i,
          "n": f"{writer}-{j}-{i}", "_time": T0 + (i % 2) * 3600 * S + j * 1000 + i}
         for i in range(per_batch)], resource={"service.name": "claude-code", "team": "platform"}))
        for j in range(n)]


def test_two_receivers_updating_the_same_rollup_rows_lose_nothing(postgres_url: str) -> None:
    stores = [PostgresStore(postgres_url) for _ in range(2)]
    work = [busy_events(w, 60, 40) for w in range(2)]
    results: list[list[StoreResult]] = [[], []]

    def run(w: int) -> None:
        futures = [stores[w].submit(b) for b in work[w]]  # queued at once: group commits of several requests
        results[w] = [f.result(60) for f in futures]

    threads = [threading.Thread(target=run, args=(w,)) for w in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        for store in stores:
            store.close()
    assert [sum(r.accepted for r in rs) for rs in results] == [2400, 2400]
    assert pg_rows(postgres_url, "SELECT SUM(n)::bigint, SUM(records)::bigint FROM rollup_events") == [(4800, 4800)]
    assert pg_rows(postgres_url, "SELECT SUM(n)::bigint FROM rollup_events_sets") == [(4800,)]
    assert rollup_mismatches(postgres_url) == {}


def test_a_request_the_database_refuses_fails_alone(pg: PostgresStore, postgres_url: str) -> None:
    bad = batch_of("logs", event_request([{"event.name": "user_prompt", "prompt": "not json", "n": 1}]))
    bad.events[0] = bad.events[0]._replace(custom_attributes="not json")  # jsonb refuses it (a NUL no longer)
    good = batch_of("logs", event_request([{"event.name": "user_prompt", "prompt": "fine", "n": 2}]))
    futures = [pg.submit(bad), pg.submit(good)]
    with pytest.raises(StoreBusy, match="database error"):
        futures[0].result(30)
    assert futures[1].result(30) == StoreResult(1, 0)
    assert pg.health.reason is None
    assert pg_rows(postgres_url, "SELECT prompt FROM events") == [("fine",)]


def test_unreachable_database_is_store_busy_and_the_writer_recovers() -> None:
    with start_throwaway() as cluster:
        url = cluster.create_database()
        store = PostgresStore(url, commit_timeout_s=10)
        try:
            first = batch_of("logs", event_request([{"event.name": "user_prompt", "n": 1}]))
            assert store.submit(first).result(30) == StoreResult(1, 0)
            cluster.stop_server("fast")
            second = batch_of("logs", event_request([{"event.name": "user_prompt", "n": 2}]))
            with pytest.raises(StoreBusy, match="database not writable"):
                store.submit(second).result(30)
            assert store.health.state()[0] is not None  # the old connection's AdminShutdown, first
            deadline = time.monotonic() + 10
            while not (store.health.state()[0] or "").startswith("unreachable"):  # then the heartbeat's try
                assert time.monotonic() < deadline, store.health.state()
                time.sleep(0.1)
            cluster.start_server()
            deadline = time.monotonic() + 30
            while store.health.state()[0] is not None:  # the heartbeat reconnects on its own
                assert time.monotonic() < deadline, "the writer did not recover"
                time.sleep(0.1)
            assert store.submit(second).result(30) == StoreResult(1, 0)
            assert store.submit(first).result(30) == StoreResult(0, 1)
        finally:
            store.close()


def test_a_read_only_store_refuses_writes(postgres_url: str) -> None:
    PostgresStore(postgres_url).close()  # migrated by a writing one first
    store = PostgresStore(postgres_url, write=False)
    try:
        assert not store.has_room() and store.queued == 0
        with pytest.raises(Overloaded, match="read-only"):
            store.submit(batch_of("logs", event_request([{"event.name": "user_prompt"}])))
    finally:
        store.close()


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://ccm:s3cret@db.example:5432/ccm", "postgresql://ccm:***@db.example:5432/ccm"),
    ("postgresql://ccm@db/ccm?password=s3cret&sslmode=require", "postgresql://ccm@db/ccm?password=***&sslmode=require"),
    ("postgresql://db/ccm", "postgresql://db/ccm"),
], ids=["password-in-user-part", "password-in-query", "no-password"])
def test_location_hides_the_password(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_delta_points_and_several_receivers_starting_at_once_migrate_once(postgres_url: str) -> None:
    stores: list[PostgresStore] = []
    lock = threading.Lock()

    def open_one() -> None:
        store = PostgresStore(postgres_url)
        with lock:
            stores.append(store)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert len(stores) == 4
        point = sum_request([(T0, T0 + S, 5.0)], temporality=DELTA)
        assert [s.submit(batch_of("metrics", point)).result(30) for s in stores] == \
            [StoreResult(1, 0)] + [StoreResult(0, 1)] * 3
    finally:
        for store in stores:
            store.close()
    assert pg_rows(postgres_url, "SELECT name FROM schema_migrations ORDER BY name") == \
        [("0001_initial",), ("0002_tokens_and_secrets",)]
