"""The PostgreSQL harness (tests/postgres_cluster.py) on real servers: fresh databases, drop, stop and restart."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from postgres_cluster import (
    ENV_URL,
    NotStoppable,
    PostgresCluster,
    PostgresNotInstalled,
    find_bin_dir,
    start,
    start_throwaway,
)

USER_TABLES = "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"


def database_exists(cluster: PostgresCluster, url: str) -> bool:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(cluster.url) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def test_two_databases_are_different_connectable_and_empty(postgres_cluster: PostgresCluster) -> None:
    first, second = postgres_cluster.create_database(), postgres_cluster.create_database()
    try:
        assert first != second
        for url in (first, second):
            with psycopg.connect(url) as conn:
                assert conn.execute("SELECT current_database()").fetchone() == (url.rsplit("/", 1)[1],)
                assert conn.execute(USER_TABLES).fetchone() == (0,)
        with psycopg.connect(first) as conn:
            conn.execute("CREATE TABLE only_in_first (n int)")
        with psycopg.connect(second) as conn:
            assert conn.execute(USER_TABLES).fetchone() == (0,)
    finally:
        postgres_cluster.drop_database(first)
        postgres_cluster.drop_database(second)


def test_the_postgres_url_fixture_gives_an_empty_database(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute(USER_TABLES).fetchone() == (0,)


def test_drop_removes_the_database_and_ends_its_connections(postgres_cluster: PostgresCluster) -> None:
    url = postgres_cluster.create_database()
    with psycopg.connect(url, autocommit=True) as conn:
        postgres_cluster.drop_database(url)
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    assert not database_exists(postgres_cluster, url)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=5)


def test_drop_refuses_a_database_it_did_not_create(postgres_cluster: PostgresCluster) -> None:
    with pytest.raises(ValueError, match="'postgres'"):
        postgres_cluster.drop_database(postgres_cluster.url)


def test_a_throwaway_cluster_stops_and_starts_again_with_its_data() -> None:
    with start_throwaway() as cluster:
        url = cluster.create_database()
        with psycopg.connect(url) as conn:
            conn.execute("CREATE TABLE kept (n int)")
            conn.execute("INSERT INTO kept VALUES (1)")
        held = psycopg.connect(url, autocommit=True)
        try:
            cluster.stop_server()
            with pytest.raises(psycopg.OperationalError):
                held.execute("SELECT 1")
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(url, connect_timeout=5)
            cluster.start_server()
        finally:
            held.close()
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT n FROM kept").fetchall() == [(1,)]
        cluster.restart()
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT n FROM kept").fetchall() == [(1,)]


def test_a_stopped_throwaway_cluster_leaves_nothing_behind() -> None:
    cluster = start_throwaway()
    directory = cluster.directory
    assert directory is not None and (directory / "data" / "PG_VERSION").exists()
    cluster.stop()
    assert not directory.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(cluster.url, connect_timeout=5)


def test_a_server_from_the_environment_is_used_but_never_stopped(postgres_cluster: PostgresCluster) -> None:
    external = start({ENV_URL: postgres_cluster.url})
    assert not external.stoppable
    url = external.create_database()
    assert database_exists(postgres_cluster, url)
    for stop_or_start in (external.stop_server, external.start_server, external.restart):
        with pytest.raises(NotStoppable, match=ENV_URL):
            stop_or_start()
    external.stop()  # drops what it created, leaves the server running
    assert not database_exists(postgres_cluster, url)


def make_bin_dir(root: Path, version: str) -> Path:
    bin_dir = root / version / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("initdb", "pg_ctl", "postgres"):
        (bin_dir / name).write_text("#!/bin/sh\n")
        (bin_dir / name).chmod(0o755)
    return bin_dir


def test_the_highest_installed_version_is_used(tmp_path: Path) -> None:
    for version in ("9.6", "16", "15"):
        make_bin_dir(tmp_path, version)
    assert find_bin_dir(path="", debian_dirs=f"{tmp_path}/*/bin") == tmp_path / "16" / "bin"


def test_initdb_in_path_wins_over_the_installed_versions(tmp_path: Path) -> None:
    make_bin_dir(tmp_path / "lib", "16")
    chosen = make_bin_dir(tmp_path / "opt", "14")
    assert find_bin_dir(path=str(chosen), debian_dirs=f"{tmp_path}/lib/*/bin") == chosen


def test_missing_server_binaries_name_the_package(tmp_path: Path) -> None:
    with pytest.raises(PostgresNotInstalled, match="apt-get install -y postgresql"):
        find_bin_dir(path="", debian_dirs=f"{tmp_path}/*/bin")
