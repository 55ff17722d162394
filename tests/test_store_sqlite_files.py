"""File modes of the database, its -wal and -shm files and its directory, as a real server leaves them."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ccmonitor.store.sqlite.writer import open_database
from otlp_builders import event_request

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])  # the modes of SQLite's files; PostgreSQL has none


@pytest.fixture
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def mode(path: Path | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def files_of(db: Path) -> list[str]:
    return [f"{db}{suffix}" for suffix in ("", "-wal", "-shm")]


@pytest.mark.parametrize("umask,file_mode,dir_mode", [(0o022, 0o640, 0o750), (0o077, 0o600, 0o700)],
                         ids=["umask-022", "umask-077-kept"], indirect=["umask"])
def test_a_new_database_gives_other_users_nothing(server_factory, tmp_path: Path, umask: int, file_mode: int,
                                                  dir_mode: int) -> None:
    db = tmp_path / "new-folder" / "claude_monitoring.db"
    server = server_factory(db=db)
    body = event_request([{"event.name": "tool_result", "session.id": "s"}]).SerializeToString()
    assert httpx.post(f"http://127.0.0.1:{server.http_port}/v1/logs", content=body,
                      headers={"content-type": "application/x-protobuf"}).status_code == 200
    assert {name: oct(mode(name)) for name in files_of(db)} == {name: oct(file_mode) for name in files_of(db)}
    assert mode(db.parent) == dir_mode


def test_an_existing_database_readable_by_others_is_tightened_once(server_factory, tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ccmonitor.store.sqlite.files")
    db = tmp_path / "old.db"
    open_database(db).close()
    os.chmod(db, 0o664)  # as an older version (umask 002) left it
    server_factory(db=db).stop()
    assert mode(db) == 0o660  # the group bits are the owner's choice; only the other-bits go
    server_factory(db=db).stop()
    lines = [r.getMessage() for r in caplog.records if r.name == "ccmonitor.store.sqlite.files"]
    assert lines == [f"other users could read the database; removed their access: {db} 0664 -> 0660"]


def test_a_stopped_server_leaves_everything_in_the_one_file(server_factory: object, tmp_path: Path) -> None:
    """Its readers close before its writer, whose connection (the last) checkpoints the WAL: copying
    the .db file alone after a stop copies every row, however many reads the server served."""
    import shutil
    import sqlite3

    running = server_factory(db=tmp_path / "live.db")  # type: ignore[operator]
    body = event_request([{"event.name": "user_prompt", "n": i} for i in range(5)]).SerializeToString()
    assert httpx.post(f"http://127.0.0.1:{running.http_port}/v1/logs", content=body,
                      headers={"content-type": "application/x-protobuf"}, timeout=30).status_code == 200
    assert httpx.get(running.url("/api/overview"), timeout=30).status_code == 200  # the read pool holds one
    running.stop()
    shutil.copy(tmp_path / "live.db", tmp_path / "copy.db")  # the file alone, no -wal
    with sqlite3.connect(tmp_path / "copy.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 5
