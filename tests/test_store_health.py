"""The writer's health as /health reports it, on real failures: a full disk (a tmpfs holding the SQLite
file, or PostgreSQL's tablespace), a lock held past the time the writer waits for it, a transaction
stalled past the commit timeout (SQLite waiting on a lock; PostgreSQL not answering); and a busy but
healthy server stays 200."""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

import stored
from ccmonitor.store.sqlite.writer import HEARTBEAT_S, connect
from conftest import RunningServer
from disk import TinyDisk
from locking import GIVE_UP, LOCKED_REASON, write_lock
from otlp_builders import event_request
from postgres_cluster import PostgresCluster, start_throwaway

_n = itertools.count()


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[TinyDisk]:
    with TinyDisk(tmp_path / "disk") as mounted:
        yield mounted


def export(server: RunningServer, session: str, records: int = 10, pad: int = 0) -> int:
    body = event_request([{"event.name": "tool_result", "session.id": session, "n": next(_n), "pad": "x" * pad}
                          for _ in range(records)]).SerializeToString()
    return httpx.post(f"http://127.0.0.1:{server.http_port}/v1/logs", content=body,
                      headers={"content-type": "application/x-protobuf"}, timeout=30).status_code


def health(server: RunningServer) -> httpx.Response:
    return httpx.get(server.url("/health"), timeout=5)


def wait_for(server: RunningServer, status: int, within_s: float) -> float:
    """Poll /health until it answers `status`; returns how long that took."""
    started = time.monotonic()
    while health(server).status_code != status:
        assert time.monotonic() - started < within_s, f"/health did not become {status} within {within_s} s"
        time.sleep(0.05)
    return time.monotonic() - started


def stored_events(db: Path | str, session: str) -> int:
    return int(stored.scalar(db, "SELECT COUNT(*) FROM events WHERE session_id = ?", (session,)))


@pytest.fixture
def throwaway() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster of this test's own, on this machine (its files and processes are at hand)."""
    with start_throwaway() as cluster:
        yield cluster


def health_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "ccmonitor.store.health"]


@pytest.mark.parametrize("backend", ["sqlite"])  # the SQLite file on a full disk; PostgreSQL's: below
def test_full_disk_is_503_then_health_recovers_by_itself(server_factory, disk: TinyDisk,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ccmonitor.store.health")
    server = server_factory(db=disk.root / "data" / "claude_monitoring.db")
    assert export(server, "before") == 200 and health(server).status_code == 200
    # Leave less room than one export needs: the failed commit leaves its partly written WAL frames
    # behind, where a small write would still fit (the heartbeat must not take that for recovery).
    disk.fill(leave=200 * 1024)
    assert export(server, "while-full", records=500, pad=1000) == 503
    r = health(server)
    body = r.json()
    assert r.status_code == 503 and body["status"] == "unavailable" and body["db_writable"] is False
    assert body["reason"].startswith("disk full") and "SQLITE_FULL" in body["reason"]
    assert body["since"].endswith("Z") and body["version"]
    time.sleep(2.5 * HEARTBEAT_S)  # heartbeats ran while full
    assert health(server).status_code == 503

    disk.free()
    wait_for(server, 200, within_s=4 * HEARTBEAT_S)  # no client needed: the heartbeat found the space
    assert health(server).json() == {"status": "ok", "version": body["version"], "db_writable": True}
    assert export(server, "after") == 200
    assert stored_events(server.db_path, "after") == 10 and stored_events(server.db_path, "while-full") == 0
    lines = health_lines(caplog)
    assert len(lines) == 2, lines
    assert lines[0].startswith("database not writable: disk full")
    assert lines[1].startswith("database writable again")


@pytest.fixture
def tablespace_database(throwaway: PostgresCluster) -> Iterator[tuple[str, TinyDisk]]:
    """A database whose every file (catalogs, tables, temporary tables) lives on a tmpfs of its own:
    a tablespace there, in a cluster of this test's own (whose user must reach the directory)."""
    assert throwaway.directory is not None
    owner = os.stat(throwaway.directory)
    with TinyDisk(throwaway.directory / "disk", size="48m") as disk:
        location = disk.root / "tablespace"
        location.mkdir()
        os.chown(location, owner.st_uid, owner.st_gid)
        with psycopg.connect(throwaway.url, autocommit=True) as admin:
            admin.execute(f"CREATE TABLESPACE tiny LOCATION '{location}'")
            admin.execute("CREATE DATABASE tiny TABLESPACE tiny")
        try:
            yield throwaway.url.rsplit("/", 1)[0] + "/tiny", disk
        finally:
            with psycopg.connect(throwaway.url, autocommit=True) as admin:
                admin.execute("DROP DATABASE tiny WITH (FORCE)")
                admin.execute("DROP TABLESPACE tiny")


@pytest.mark.parametrize("backend", ["postgres"])
def test_postgres_full_disk_is_503_then_health_recovers_by_itself(
        tablespace_database: tuple[str, TinyDisk], server_factory, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ccmonitor.store.health")
    url, disk = tablespace_database
    server = server_factory(db=url)
    assert export(server, "before") == 200 and health(server).status_code == 200
    disk.fill(leave=200 * 1024)  # less room than one export needs (a table grows by whole pages)
    assert export(server, "while-full", records=500, pad=1000) == 503
    r = health(server)
    body = r.json()
    assert r.status_code == 503 and body["status"] == "unavailable" and body["db_writable"] is False
    assert body["reason"].startswith("disk full") and "DiskFull 53100" in body["reason"]
    assert body["since"].endswith("Z") and body["version"]
    time.sleep(2.5 * HEARTBEAT_S)  # heartbeats ran while full
    assert health(server).status_code == 503

    disk.free()
    wait_for(server, 200, within_s=4 * HEARTBEAT_S)  # no client needed: the heartbeat found the space
    assert health(server).json() == {"status": "ok", "version": body["version"], "db_writable": True}
    assert export(server, "after") == 200
    assert stored_events(url, "after") == 10 and stored_events(url, "while-full") == 0
    lines = health_lines(caplog)
    assert len(lines) == 2, lines
    assert lines[0].startswith("database not writable: disk full")
    assert lines[1].startswith("database writable again")


def test_a_lock_held_past_the_writers_patience_is_503_until_released(server_factory, backend: str,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ccmonitor.store.health")
    server = server_factory(**GIVE_UP[backend])
    with write_lock(server.db_path):  # another process writing, for longer than the writer waits
        assert export(server, "locked-out") == 503
        r = health(server)
        assert r.status_code == 503 and r.json()["reason"].startswith(LOCKED_REASON[backend])
    wait_for(server, 200, within_s=4 * HEARTBEAT_S)
    assert export(server, "after") == 200
    assert len(health_lines(caplog)) == 2


@pytest.mark.parametrize("backend", ["sqlite"])  # SQLite waits on a lock; PostgreSQL's writer: below
def test_a_writer_stuck_in_one_transaction_is_503(server_factory) -> None:
    server = server_factory(busy_timeout_ms=20_000, commit_timeout_s=0.3)
    other = connect(server.db_path)
    other.execute("BEGIN IMMEDIATE")  # the writer waits on it inside its transaction (busy_timeout 20 s)
    statuses: list[int] = []
    sender = threading.Thread(target=lambda: statuses.append(export(server, "stuck")))
    try:
        sender.start()
        wait_for(server, 503, within_s=10)
        assert health(server).json()["reason"].startswith("stalled")
    finally:
        other.execute("COMMIT")
        other.close()
        sender.join()
    assert statuses == [503]  # the request gave up after commit_timeout_s; its rows commit later
    wait_for(server, 200, within_s=5)  # the commit that ended the stall recovered it


@contextlib.contextmanager
def not_answering(url: str, application_name: str) -> Iterator[None]:
    """The server process of one connection stopped (SIGSTOP), as a PostgreSQL that hangs or a network
    that drops every packet: no statement timeout fires, the client waits on its socket."""
    with psycopg.connect(url) as conn:
        [(pid,)] = conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                                (application_name,)).fetchall()
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_postgres_writer_stuck_in_one_transaction_is_503(throwaway: PostgresCluster, server_factory) -> None:
    url = throwaway.create_database()
    server = server_factory(db=url, commit_timeout_s=0.3)
    assert export(server, "before") == 200  # the writer's connection and the month's partition exist
    statuses: list[int] = []
    sender = threading.Thread(target=lambda: statuses.append(export(server, "stuck")))
    with not_answering(url, "ccmonitor-writer"):
        sender.start()
        wait_for(server, 503, within_s=10)
        assert health(server).json()["reason"].startswith("stalled")
        sender.join()
    assert statuses == [503]  # the request gave up after commit_timeout_s
    wait_for(server, 200, within_s=4 * HEARTBEAT_S)  # the writer goes on by itself once the server answers
    assert export(server, "after") == 200


def test_health_stays_ok_while_ingest_floods_the_writer(server) -> None:
    stop = threading.Event()
    sent: list[int] = []

    def flood(name: str) -> None:
        while not stop.is_set():
            sent.append(export(server, name, records=500, pad=200))

    senders = [threading.Thread(target=flood, args=(f"flood-{i}",)) for i in range(3)]
    for t in senders:
        t.start()
    try:
        answers = []
        while len(sent) < 40:
            answers.append(health(server).status_code)
    finally:
        stop.set()
        for t in senders:
            t.join()
    assert set(answers) == {200} and len(answers) > 10
    assert set(sent) <= {200, 503} and 200 in sent  # a full queue may answer 503; /health must not
