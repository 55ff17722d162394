"""Retention (the policy of ccmonitor/retention.py over store/sqlite/retention and store/postgres/retention)
on both backends: what a dry run counts is what prune deletes, prompt blanking keeps the events and
touches only its window, the background loop `serve` runs; waiting out another writer's lock and giving
up after the patience, each backend its own way. SQLite's alone: pruning beside a server that keeps
ingesting (PostgreSQL's: test_store_postgres_retention.py), a stale snapshot, the incremental vacuum."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

import stored
from capture import replay_scenario, snapshot_rows
from ccmonitor import retention as policy
from ccmonitor.errors import StoreBusy
from ccmonitor.store import is_url, open_store
from ccmonitor.store.postgres import retention as postgres_retention
from ccmonitor.store.sqlite import retention
from ccmonitor.store.sqlite.writer import connect
from ccmonitor.telemetry import utc_text
from conftest import make_config
from otlp_builders import event_request

SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"])  # fixtures of both backends, this one's
POSTGRES_ONLY = pytest.mark.parametrize("backend", ["postgres"])
OLD, CUT = "2020-01-01 00:00:00.000", "2025-01-01 00:00:00.000"
fill = stored.fill  # n rows per table at one time, through the store's own writer


def run(db: Path | str, step: str, *args: Any, **kwargs: Any) -> Any:
    """One step (count, prune, blank_prompts) of the backend's retention module on the database at `db`,
    with batch sizes and patience that the Store's methods leave at their defaults."""
    if is_url(db):
        return getattr(postgres_retention, step)(str(db), *args, **kwargs)
    with contextlib.closing(connect(Path(db))) as conn:
        return getattr(retention, step)(conn, *args, **kwargs)


def add_series(db: Path, key: bytes, updated_at: str) -> None:
    conn = connect(db)
    conn.execute("INSERT INTO metric_series VALUES (?, 1, 2, 3.0, ?)", (key, updated_at))
    conn.close()


def scalar(db: Path | str, sql: str, *params: object) -> Any:
    return stored.scalar(db, sql, params)


def prompts(db: Path | str) -> set[str]:
    return {p for (p,) in stored.rows(db, "SELECT DISTINCT prompt FROM events WHERE prompt IS NOT NULL")}


def holding(db: Path | str, table: str, key: str) -> int:
    """Rows of `table` whose custom_attributes still hold `key`."""
    return sum(key in json.loads(a) for (a,) in stored.rows(db, f"SELECT custom_attributes FROM {table}"))


@SQLITE_ONLY  # SQLite's one write lock, shared with the server; PostgreSQL's: test_store_postgres_retention.py
def test_prune_beside_a_server_that_keeps_ingesting(server_factory, tmp_path: Path) -> None:
    db = tmp_path / "busy.db"
    fill(db, 20_000, OLD)
    add_series(db, b"old-series", "2020-01-01 00:00:00")
    add_series(db, b"live-series", "2026-11-27 00:00:00")
    server = server_factory(db=db)
    replay_scenario("http-protobuf", server.ports)
    pruned: dict[str, int] = {}

    def prune() -> None:
        conn = connect(db)
        try:
            pruned.update(retention.prune(conn, CUT, batch=500))
        finally:
            conn.close()

    worker = threading.Thread(target=prune)
    statuses, slowest, sent, during = [], 0.0, 0, 0
    worker.start()
    while worker.is_alive() or sent < 40:
        during += worker.is_alive()
        body = event_request([{"event.name": "tool_result", "session.id": "live", "n": sent * 10 + i}
                              for i in range(10)]).SerializeToString()
        started = time.monotonic()
        r = httpx.post(f"http://127.0.0.1:{server.http_port}/v1/logs", content=body,
                       headers={"content-type": "application/x-protobuf"}, timeout=30)
        slowest = max(slowest, time.monotonic() - started)
        statuses.append(r.status_code)
        sent += 1
    worker.join()
    assert set(statuses) == {200}, "ingest was refused while prune ran"
    assert slowest < 4.0  # well under the writer's 5 s busy_timeout: prune never held the lock long
    assert during >= 10, "prune finished before ingest got going; nothing was tested"
    assert pruned == {"metrics": 20_000, "events": 20_000, "spans": 20_000, "metric_series": 1}
    rows = snapshot_rows(db)
    assert rows["events"] == 16 + sent * 10  # the capture's 16 records and everything sent meanwhile
    assert scalar(db, "SELECT COUNT(*) FROM events WHERE session_id = 'live'") == sent * 10
    for table in ("metrics", "events", "spans"):
        assert scalar(db, f"SELECT COUNT(*) FROM {table} WHERE timestamp < ?", CUT) == 0
    assert scalar(db, "SELECT COUNT(*) FROM metrics") > 0
    assert scalar(db, "SELECT COUNT(*) FROM metric_series WHERE series_key = ?", b"live-series") == 1


class LockHolder(threading.Thread):
    """Another writer: holds the write lock of the database (SQLite's BEGIN IMMEDIATE, PostgreSQL's tables
    in EXCLUSIVE mode) for each of `holds` seconds, with short gaps between."""

    def __init__(self, db: Path | str, holds: tuple[float, ...]) -> None:
        super().__init__()
        self.db, self.holds = db, holds
        self.holding = threading.Event()

    def run(self) -> None:
        if is_url(self.db):
            with psycopg.connect(str(self.db), autocommit=True) as pg:
                for hold in self.holds:
                    with pg.transaction():
                        pg.execute("LOCK TABLE events, metrics, spans IN EXCLUSIVE MODE")
                        self.holding.set()
                        time.sleep(hold)
                    time.sleep(0.05)
            return
        conn = connect(Path(self.db))
        try:
            for hold in self.holds:
                conn.execute("BEGIN IMMEDIATE")
                self.holding.set()
                time.sleep(hold)
                conn.execute("COMMIT")
                time.sleep(0.05)
        finally:
            conn.close()


def test_prune_waits_out_a_writer_that_holds_the_lock_past_busy_timeout(tmp_path: Path) -> None:
    db = tmp_path / "contended.db"
    fill(db, 3000, OLD)
    holder = LockHolder(db, holds=(1.0, 0.5, 0.5, 0.5))  # each longer than prune's busy_timeout
    holder.start()
    holder.holding.wait()
    conn = connect(db, busy_timeout_ms=100)
    try:
        counts = retention.count(conn, CUT)
        done = retention.prune(conn, CUT, batch=250)
        blanked = retention.blank_prompts(conn, CUT)
        retention.vacuum(conn)
    finally:
        conn.close()
        holder.join()
    assert counts == done == {"metrics": 3000, "events": 3000, "spans": 3000, "metric_series": 0}
    assert blanked == 0 and snapshot_rows(db) == {"metrics": 0, "events": 0, "spans": 0}


@POSTGRES_ONLY
def test_postgres_prune_waits_out_a_writer_that_holds_the_lock_past_its_lock_timeout(db_target: str) -> None:
    fill(db_target, 3000, OLD)
    fill(db_target, 10, "2026-01-01 00:00:00.000")
    holder = LockHolder(db_target, holds=(postgres_retention.LOCK_TIMEOUT_MS / 1000 + 1, 0.5))
    holder.start()
    holder.holding.wait()
    try:
        counts = run(db_target, "count", CUT)
        done = run(db_target, "prune", CUT, batch=250)
        blanked = run(db_target, "blank_prompts", CUT)
    finally:
        holder.join()
    assert counts == done == {"metrics": 3000, "events": 3000, "spans": 3000, "metric_series": 0}
    assert blanked == 0 and snapshot_rows(db_target) == {"metrics": 10, "events": 10, "spans": 10}


def test_prune_gives_up_after_its_patience_with_one_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "held.db"
    fill(db, 100, OLD)
    holder = LockHolder(db, holds=(2.0,))
    holder.start()
    holder.holding.wait()
    conn = connect(db, busy_timeout_ms=100)
    try:
        with pytest.raises(StoreBusy, match=r"^the database stayed locked for 0.5 s \(another process kept writing"):
            retention.prune(conn, CUT, patience_s=0.5)
        holder.join()
        assert retention.prune(conn, CUT)["events"] == 100  # the connection is fine afterwards
    finally:
        conn.close()


@POSTGRES_ONLY
def test_postgres_prune_gives_up_after_its_patience_with_one_clear_error(db_target: str) -> None:
    fill(db_target, 100, OLD)
    holder = LockHolder(db_target, holds=(postgres_retention.LOCK_TIMEOUT_MS / 1000 + 2,))
    holder.start()
    holder.holding.wait()
    try:
        with pytest.raises(StoreBusy, match=r"^the database stayed locked for 0.5 s \(receivers or readers kept it"):
            run(db_target, "prune", CUT, patience_s=0.5)
    finally:
        holder.join()
    assert run(db_target, "prune", CUT)["events"] == 100  # nothing was left half done


def test_a_stale_snapshot_is_retried_not_raised(tmp_path: Path) -> None:
    """SQLITE_BUSY_SNAPSHOT: a read transaction older than another writer's commit cannot become a write,
    and busy_timeout does not wait for it; only a new transaction helps."""
    db = tmp_path / "snapshot.db"
    fill(db, 10, OLD)
    conn, other = connect(db), connect(db)
    attempts: list[int] = []

    def stale_snapshot(table: str) -> None:
        conn.execute("BEGIN")
        conn.execute("SELECT COUNT(*) FROM events").fetchone()
        other.execute(f"DELETE FROM {table}")  # another process commits after our read

    def delete() -> int:
        attempts.append(1)
        return conn.execute("DELETE FROM events WHERE timestamp < ?", (CUT,)).rowcount

    try:
        stale_snapshot("spans")
        with pytest.raises(sqlite3.OperationalError) as info:
            delete()
        assert info.value.sqlite_errorname == "SQLITE_BUSY_SNAPSHOT"
        conn.execute("ROLLBACK")
        stale_snapshot("metrics")
        attempts.clear()
        assert retention.patiently(conn, delete) == 10 and len(attempts) == 2
    finally:
        conn.close()
        other.close()


def test_dry_run_count_is_what_prune_deletes(db_target: Path | str) -> None:
    db = db_target
    fill(db, 300, OLD)
    fill(db, 200, "2026-01-01 00:00:00.000", prompt="secret")
    counts = run(db, "count", CUT, "2026-06-01 00:00:00.000")
    assert counts == {"metrics": 300, "events": 300, "spans": 300, "metric_series": 0, "prompts": 400}
    done = run(db, "prune", CUT, batch=64)
    assert done == {"metrics": 300, "events": 300, "spans": 300, "metric_series": 0}
    assert run(db, "blank_prompts", "2026-06-01 00:00:00.000", CUT, batch=64) == 400


def test_blanking_keeps_the_events_and_their_length(server, captures_db: Path | str) -> None:
    body = event_request([{"event.name": "api_request_body", "body": '{"messages": "the whole chat"}',
                           "model": "m"}]).SerializeToString()
    assert httpx.post(f"http://127.0.0.1:{server.http_port}/v1/logs", content=body,
                      headers={"content-type": "application/x-protobuf"}).status_code == 200
    assert holding(server.db_path, "events", "body") == 1
    for db in (captures_db, server.db_path):
        before = snapshot_rows(db)
        run(db, "blank_prompts", "9999-01-01 00:00:00.000", batch=5)
        assert snapshot_rows(db) == before
        assert scalar(db, "SELECT COUNT(*) FROM events WHERE prompt IS NOT NULL") == 0
        for key in ("prompt", "prompt_text", "user_prompt", "body"):
            for table in ("events", "spans"):
                assert holding(db, table, key) == 0, (table, key)
    assert scalar(captures_db, "SELECT COUNT(*) FROM events WHERE event_name = 'claude_code.user_prompt'"
                               " AND prompt_length = 33") == 13
    [(attributes,)] = stored.rows(captures_db,
                                  "SELECT custom_attributes FROM spans WHERE name = 'claude_code.interaction'")
    assert json.loads(attributes)["user_prompt_length"] == 33


def test_blanking_only_touches_its_window(db_target: Path | str) -> None:
    db = db_target
    fill(db, 10, "2024-01-01 00:00:00.000", prompt="old")
    fill(db, 10, "2026-01-01 00:00:00.000", prompt="mid")
    fill(db, 10, "2026-09-01 00:00:00.000", prompt="new")
    assert run(db, "blank_prompts", "2026-06-01 00:00:00.000", after=CUT) == 20  # 10 events + 10 spans
    assert prompts(db) == {"old", "new"}


def test_incremental_vacuum_gives_the_space_back(tmp_path: Path) -> None:
    """SQLite's free pages (PostgreSQL leaves dead tuples to autovacuum: store/postgres/retention.vacuum)."""
    db = tmp_path / "v.db"
    fill(db, 4000, OLD)
    conn = connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    retention.prune(conn, CUT)
    assert conn.execute("PRAGMA freelist_count").fetchone()[0] > 0
    freed = retention.vacuum(conn, pages=100)
    assert freed > pages // 2
    assert conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
    assert conn.execute("PRAGMA page_count").fetchone()[0] <= pages - freed  # pointer-map pages go too
    conn.close()


def test_background_loop_prunes_blanks_and_stops(db_target: Path | str) -> None:
    db = db_target
    now = datetime.now(UTC)
    fill(db, 50, utc_text(now - timedelta(days=60)), prompt="ancient")
    fill(db, 50, utc_text(now - timedelta(days=10)), prompt="older than a week")
    fill(db, 50, utc_text(now - timedelta(hours=1)), prompt="fresh")
    config = make_config(db, retention_days=30, prompt_retention_days=7)

    store = open_store(db)

    async def run() -> float:
        stop = asyncio.Event()
        task = asyncio.create_task(policy.retention_loop(store, config, stop, interval_s=3600))
        for _ in range(300):
            await asyncio.sleep(0.05)
            if scalar(db, "SELECT COUNT(*) FROM events WHERE prompt = 'older than a week'") == 0:
                break
        stop.set()
        started = time.monotonic()
        await asyncio.wait_for(task, 10)
        return time.monotonic() - started

    try:
        assert asyncio.run(run()) < 2.0  # stop is honoured at once, not after the hour-long sleep
    finally:
        store.close()
    assert snapshot_rows(db) == {"metrics": 100, "events": 100, "spans": 100}
    assert prompts(db) == {"fresh"}


@pytest.mark.parametrize("days", [(0, 0)], ids=["retention off"])
def test_loop_does_nothing_when_retention_is_off(db_target: Path | str, days: tuple[int, int]) -> None:
    db = db_target
    fill(db, 5, OLD, prompt="keep")
    config = make_config(db, retention_days=days[0], prompt_retention_days=days[1])
    store = open_store(db)
    try:
        asyncio.run(asyncio.wait_for(policy.retention_loop(store, config, asyncio.Event()), 5))
    finally:
        store.close()
    assert snapshot_rows(db)["events"] == 5
