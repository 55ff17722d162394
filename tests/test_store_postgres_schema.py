"""store/postgres/migrations: applied once by any number of receivers, and a hand-typed UPDATE that
would move rows between rollup groups is refused (the rollups follow inserts and deletes only)."""

from __future__ import annotations

import psycopg
import pytest

from capture import replay_scenario
from ccmonitor.store import open_store
from conftest import RunningServer, make_config


def test_updates_of_rollup_keys_are_refused_and_leave_everything_as_it_was(postgres_url: str) -> None:
    server = RunningServer(make_config(postgres_url))
    try:
        replay_scenario("http-protobuf", server.ports)
    finally:
        server.stop()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        before = conn.execute("SELECT sum(n), sum(records) FROM rollup_events").fetchone()
        for sql in ("UPDATE events SET model = 'other'", "UPDATE events SET timestamp = timestamp + interval '1 day'",
                    "UPDATE metrics SET metric_value = metric_value * 2", "UPDATE metrics SET type = 'x'",
                    "UPDATE metrics SET user_email = 'x'", "UPDATE metrics SET account_uuid = NULL"):
            with pytest.raises(psycopg.errors.FeatureNotSupported, match="rollups inexact"):
                conn.execute(sql)
        assert conn.execute("UPDATE events SET prompt = NULL WHERE prompt IS NOT NULL").rowcount > 0  # not a key
        assert conn.execute("SELECT sum(n), sum(records) FROM rollup_events").fetchone() == before
        assert conn.execute("SELECT count(*) FROM events WHERE model = 'other'").fetchone()[0] == 0


def test_migrations_apply_once_however_many_stores_open(postgres_url: str) -> None:
    stores = [open_store(postgres_url) for _ in range(3)]
    for store in stores:
        store.close()
    with psycopg.connect(postgres_url) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
    assert names == ["0001_initial", "0002_tokens_and_secrets"]
