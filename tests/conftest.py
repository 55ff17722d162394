"""Shared fixtures: real servers on 127.0.0.1 port 0 over real databases: a SQLite file in a tmp dir,
or a fresh PostgreSQL database. Every test that takes `server`, `server_factory`, `db_target` or
`captures_db` runs once per backend (`backend`, ids [sqlite] and [postgres]); a test that is about
one backend takes `sqlite_server` / a path, or `postgres_url`."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from capture import CAPTURES, STANDARD, replay_scenario
from ccmonitor.config import Config
from ccmonitor.server import ThreadedServer
from ccmonitor.store.postgres import PostgresStore
from postgres_cluster import PostgresCluster
from postgres_cluster import start as start_postgres


def make_config(db: Path | str, **changes: object) -> Config:
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


BACKENDS = ("sqlite", "postgres")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_target(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Path | str:
    """Where this test's database lives: a SQLite file (not created yet), or a new PostgreSQL database."""
    if backend == "sqlite":
        return tmp_path / "data" / "claude_monitoring.db"
    return str(request.getfixturevalue("postgres_url"))


def module_database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                    backend: str, name: str) -> Path | str:
    """A fresh database for a module-scoped fixture of `backend`: a SQLite file (not created yet), or
    a new PostgreSQL database dropped when the module is done."""
    if backend == "sqlite":
        return tmp_path_factory.mktemp(name) / "claude_monitoring.db"
    cluster = request.getfixturevalue("postgres_cluster")
    url = cluster.create_database()
    request.addfinalizer(lambda: cluster.drop_database(url))
    return str(url)


@pytest.fixture
def server(db_target: Path | str) -> Iterator[RunningServer]:
    running = RunningServer(make_config(db_target))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A server on a SQLite file, for tests about the file itself."""
    running = RunningServer(make_config(tmp_path / "data" / "claude_monitoring.db"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def server_factory(db_target: Path | str) -> Iterator[object]:
    """Start servers with custom settings: server_factory(**config_changes), on this test's database
    unless `db` names another."""
    started: list[RunningServer] = []

    def start(db: Path | str | None = None, **changes: object) -> RunningServer:
        running = RunningServer(make_config(db or db_target, **changes))
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def _fill_with_captures(db: Path | str) -> None:
    running = RunningServer(make_config(db))
    try:
        for scenario in (*STANDARD, "old-client-2.1.197-http-protobuf", "api-error-500"):
            replay_scenario(scenario, running.ports)
    finally:
        running.stop()


Master = Callable[[str, Callable[[], Path | str]], Path | str]


@pytest.fixture(scope="session")
def _captures_masters() -> Master:
    """Per backend, once per session: a database filled by replaying every capture through the real server."""
    made: dict[str, Path | str] = {}

    def master(backend: str, new: Callable[[], Path | str]) -> Path | str:
        if backend not in made:
            made[backend] = new()
            _fill_with_captures(made[backend])
        return made[backend]

    return master


@pytest.fixture
def captures_db(_captures_masters: Master, backend: str, tmp_path_factory: pytest.TempPathFactory,
                tmp_path: Path, request: pytest.FixtureRequest) -> Path | str:
    """A private copy of a database filled by replaying every capture through the real server."""
    if backend == "sqlite":
        master = _captures_masters(backend, lambda: tmp_path_factory.mktemp("captures") / "claude_monitoring.db")
        db = tmp_path / "captures.db"
        shutil.copy(master, db)
        return db
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    master = _captures_masters(backend, cluster.create_database)
    url = cluster.create_database(template=str(master))
    request.addfinalizer(lambda: cluster.drop_database(url))
    return url


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


@pytest.fixture
def pg(postgres_url: str) -> Iterator[PostgresStore]:
    """A writing PostgresStore on a fresh database, closed after the test."""
    store = PostgresStore(postgres_url)
    try:
        yield store
    finally:
        store.close()
