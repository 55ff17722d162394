"""The `serve` process: busy ports are one clear line, /health and /stats, graceful shutdown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import stored
from capture import replay_scenario, requests
from ccmonitor.errors import ConfigError, StoreUnavailable
from ccmonitor.store.sqlite.writer import open_database
from disk import TinyDisk


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("which,option", [("app_port", "--app-port"), ("http_port", "--http-port"),
                                          ("grpc_port", "--grpc-port")])
def test_busy_port_is_one_clear_error(server_factory, which: str, option: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError) as info:
            server_factory(**{which: port})
    assert f"port {port}" in str(info.value) and option in str(info.value)


def test_busy_port_from_the_command_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "ccmonitor", "serve", "--db", str(tmp_path / "x.db"), "--app-port", str(port),
             "--grpc-port", str(free_port()), "--http-port", str(free_port())],
            capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: port {port} on 127.0.0.1 is already in use; choose another with --app-port / CCMONITOR_APP_PORT"]


def test_health_and_stats(server) -> None:
    health = httpx.get(server.url("/health")).json()
    assert health["status"] == "ok" and health["version"]
    replay_scenario("traces-grpc", server.ports)
    replay_scenario("http-json", server.ports)
    stats = httpx.get(server.url("/stats")).json()
    assert stats["rows"] == {"metrics": 20, "events": 32, "spans": 13}
    assert stats["db_size_bytes"] > 0 and stats["db_path"] == str(server.db_path)
    assert all(stats["last_received"][k] for k in ("metric", "event", "span"))
    assert stats["since_start"]["logs"]["grpc"]["accepted"] == 16
    assert stats["since_start"]["logs"]["http/json"]["accepted"] == 16
    replay_scenario("http-json", server.ports)
    stats = httpx.get(server.url("/stats")).json()
    assert stats["since_start"]["logs"]["http/json"] == {"requests": 2, "accepted": 16, "duplicates": 16,
                                                          "rejected": 0}
    assert httpx.get(f"http://127.0.0.1:{server.http_port}/health").status_code == 200


def test_sigterm_commits_everything_then_exits(db_target: Path | str, backend: str) -> None:
    db = db_target
    ports = {"--grpc-port": free_port(), "--http-port": free_port(), "--app-port": free_port()}
    args = [sys.executable, "-m", "ccmonitor", "serve", "--db", str(db)]
    for k, v in ports.items():
        args += [k, str(v)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{ports['--app-port']}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        for c in requests("http-protobuf"):
            r = httpx.post(f"http://127.0.0.1:{ports['--http-port']}/v1/{c.signal}", content=c.wire,
                           headers={"content-type": "application/x-protobuf"})
            assert r.status_code == 200
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert str(db) in out and "OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:" in out
    assert "stopped" in out
    assert stored.scalar(db, "SELECT COUNT(*) FROM events") == 16
    if backend == "sqlite":  # the file was left in WAL mode
        assert stored.scalar(db, "PRAGMA journal_mode") == "wal"


def test_serve_prunes_in_the_background(server_factory, db_target: Path | str) -> None:
    from datetime import UTC, datetime, timedelta

    from otlp_builders import event_request
    db = db_target
    old = int((datetime.now(UTC) - timedelta(days=40)).timestamp() * 1e9)
    new = int((datetime.now(UTC) - timedelta(days=1)).timestamp() * 1e9)
    body = event_request([{"event.name": "user_prompt", "prompt": "old", "_time": old},
                          {"event.name": "user_prompt", "prompt": "new", "_time": new}]).SerializeToString()
    first = server_factory(db=db)
    assert httpx.post(f"http://127.0.0.1:{first.http_port}/v1/logs", content=body,
                      headers={"content-type": "application/x-protobuf"}).status_code == 200
    first.stop()
    server_factory(db=db, retention_days=30)  # a pass runs at start
    deadline = time.time() + 20
    while time.time() < deadline:
        prompts = [r[0] for r in stored.rows(db, "SELECT prompt FROM events")]
        if prompts == ["new"]:
            break
        time.sleep(0.2)
    assert prompts == ["new"]


def existing(db: Path) -> Path:
    db.parent.mkdir(parents=True, exist_ok=True)
    open_database(db).close()
    return db


# A SQLite file on a full or read-only disk: about the file itself, so SQLite only (PostgreSQL's
# unreachable database: tests/test_store_postgres_writer.py).
UNUSABLE = {  # scenario -> (make the database path unusable, the cause the one line names)
    "full-disk-new-database": (lambda disk, tmp: (disk.fill(), disk.root / "new.db")[1], "database or disk is full"),
    "full-disk-existing-database": (lambda disk, tmp: (existing(disk.root / "old.db"), disk.fill())[0],
                                    "(the file system is full)"),  # the -shm file cannot grow: SQLITE_IOERR
    "read-only-disk-existing-database": (lambda disk, tmp: (existing(disk.root / "old.db"), disk.read_only())[0],
                                         "(read-only file system)"),
    "read-only-directory-new-database": (lambda disk, tmp: (disk.read_only(), disk.root / "new.db")[1],
                                         "Read-only file system"),
    "parent-is-a-file": (lambda disk, tmp: ((tmp / "file").write_text("x"), tmp / "file" / "x.db")[1],
                         "file is not a directory"),
}


@pytest.mark.parametrize("scenario", UNUSABLE)
def test_an_unusable_database_is_one_line_at_start(tmp_path: Path, scenario: str) -> None:
    make, cause = UNUSABLE[scenario]
    with TinyDisk(tmp_path / "disk") as disk:
        db = make(disk, tmp_path)
        proc = subprocess.run([sys.executable, "-m", "ccmonitor", "serve", "--db", str(db), "--grpc-port", "0",
                               "--http-port", "0", "--app-port", "0"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot open the database {db}: "), proc.stderr
    assert cause in lines[0]


@pytest.mark.parametrize("backend", ["sqlite"])  # a SQLite file on a full disk
def test_a_full_disk_refuses_to_start_in_process(server_factory, tmp_path: Path) -> None:
    with TinyDisk(tmp_path / "disk") as disk:
        disk.fill()
        with pytest.raises(StoreUnavailable, match="database or disk is full"):
            server_factory(db=disk.root / "claude_monitoring.db")
