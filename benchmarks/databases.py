"""PostgreSQL databases for the benchmarks: a URL names one database on a server; the benchmarks create
it (fresh for an ingest run, kept for the query history) through the server's `postgres` database."""

from __future__ import annotations

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo


def is_postgres(db: str) -> bool:
    return db.startswith(("postgresql://", "postgres://"))


def name_of(url: str) -> str:
    return str(conninfo_to_dict(url).get("dbname") or "postgres")


def on_server(url: str, dbname: str) -> str:
    """A conninfo string for another database on the same server, as the same user."""
    return make_conninfo(url, dbname=dbname)


def create(url: str, *, fresh: bool) -> bool:
    """Create the database `url` names; with `fresh`, drop it first if it exists. True if it was created."""
    name = name_of(url)
    if name in ("postgres", "template0", "template1"):
        raise SystemExit(f"refusing to use the {name!r} database for a benchmark: name one of its own")
    with psycopg.connect(on_server(url, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None
        if exists and fresh:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        if exists and not fresh:
            return False
        conn.execute(f'CREATE DATABASE "{name}"')
    return True


def drop(url: str) -> None:
    with psycopg.connect(on_server(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name_of(url)}" WITH (FORCE)')


def version(url: str) -> str:
    with psycopg.connect(on_server(url, "postgres")) as conn:
        return str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]


def settings(url: str) -> str:
    """The server settings that matter most for these figures, as one line."""
    names = ("shared_buffers", "work_mem", "effective_cache_size", "synchronous_commit", "max_wal_size", "jit")
    with psycopg.connect(on_server(url, "postgres")) as conn:
        rows = conn.execute("SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)"
                            " ORDER BY name", [list(names)]).fetchall()
    return ", ".join(f"{k}={v}" for k, v in rows)


def vacuum_analyze(url: str) -> list[str]:
    """VACUUM (ANALYZE) every ordinary table (partitions included, partitioned parents not), what autovacuum
    does on a server that runs it; returns the names. Autovacuum never analyzes a partitioned parent."""
    with psycopg.connect(url, autocommit=True) as conn:
        names = [name for (name,) in conn.execute("SELECT quote_ident(relname) FROM pg_class WHERE relkind = 'r'"
                                                  " AND relnamespace = current_schema()::regnamespace ORDER BY 1")]
        if names:
            conn.execute(f"VACUUM (ANALYZE) {', '.join(names)}")
    return names
