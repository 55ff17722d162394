"""Shared fixtures: real servers on 127.0.0.1 port 0 over real SQLite files in tmp dirs."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from capture import CAPTURES, STANDARD, replay_scenario
from ccmonitor.config import Config
from ccmonitor.server import ThreadedServer
from postgres_cluster import PostgresCluster
from postgres_cluster import start as start_postgres


def make_config(db: Path, **changes: object) -> Config:
    base = Config.load({"db": db, "grpc_port": 0, "http_port": 0, "app_port": 0}, env={})
    return base.replace(**changes) if changes else base


class RunningServer:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.db_path = config.db
        self._threaded = ThreadedServer(config)
        ports = self._threaded.start()
        self.ports = ports
        self.grpc_port, self.http_port, self.app_port = ports.grpc, ports.http, ports.app

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.app_port}{path}"

    def stop(self) -> None:
        self._threaded.stop()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    running = RunningServer(make_config(tmp_path / "data" / "claude_monitoring.db"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[object]:
    """Start servers with custom settings: server_factory(**config_changes)."""
    started: list[RunningServer] = []

    def start(db: Path | None = None, **changes: object) -> RunningServer:
        running = RunningServer(make_config(db or tmp_path / "data" / "claude_monitoring.db", **changes))
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture(scope="session")
def _captures_db_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("captures") / "claude_monitoring.db"
    running = RunningServer(make_config(db))
    try:
        for scenario in (*STANDARD, "old-client-2.1.197-http-protobuf", "api-error-500"):
            replay_scenario(scenario, running.ports)
    finally:
        running.stop()
    return db


@pytest.fixture
def captures_db(_captures_db_master: Path, tmp_path: Path) -> Path:
    """A private copy of a DB filled by replaying every capture through the real server."""
    db = tmp_path / "captures.db"
    shutil.copy(_captures_db_master, db)
    return db


__all__ = ["CAPTURES"]


# --- PostgreSQL (issue #14) -------------------------------------------------------------------------------
# One server per session (CCMONITOR_TEST_POSTGRES_URL's, else a throwaway cluster: tests/postgres_cluster.py),
# one fresh empty database per test. A test that stops the server starts its own with start_throwaway().


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    cluster = start_postgres()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """The URL of a new empty database, dropped (its connections ended) after the test."""
    url = postgres_cluster.create_database()
    try:
        yield url
    finally:
        postgres_cluster.drop_database(url)
