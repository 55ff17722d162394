"""The documented schema (SEED-SCHEMA.md) on both backends: every column, native attribute types in
custom_attributes, timestamps read back as UTC text, index-driven time ranges, versioned migrations;
SQLite's alone: the pasted queries verbatim in the sqlite3 shell, a migration on a full disk."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import psycopg
import pytest

import stored
from ccmonitor.store import is_url
from disk import TinyDisk

SEED = (Path(__file__).parent / "data" / "SEED-SCHEMA.md").read_text()


def documented_columns(table: str) -> list[str]:
    section = SEED.split(f"## Table `{table}`")[1].split("##")[0]
    cols: list[str] = []
    for row in re.findall(r"^\| ([a-z_, ]+) \|", section, re.M):
        cols += [c.strip() for c in row.split(",") if c.strip() and c.strip() != "column"]
    return cols


@pytest.mark.parametrize("table", ["metrics", "events"])
def test_every_documented_column_exists(captures_db: Path | str, table: str) -> None:
    with stored.opened(captures_db) as store:
        have = set(store.columns(table))
    want = documented_columns(table)
    assert len(want) >= 15
    assert set(want) <= have


@pytest.mark.parametrize("backend", ["sqlite"])  # the sqlite3 shell; the queries are SQLite's own SQL
def test_pasted_queries_work_verbatim_in_the_sqlite3_shell(captures_db: Path) -> None:
    sqlite = shutil.which("sqlite3")
    assert sqlite, "sqlite3 shell missing: apt-get install -y sqlite3"
    block = SEED.split("## Queries users paste")[1].split("```sql")[1].split("```")[0]
    statements = [s.strip() for s in block.split(";") if s.strip()]
    assert len(statements) == 7
    conn = sqlite3.connect(captures_db)
    metrics_before = conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
    # What the DELETEs keep depends on today's date; compute it the same way SQLite will.
    kept_input = conn.execute("SELECT COALESCE(SUM(metric_value), 0) FROM metrics WHERE metric_name ="
                              " 'claude_code.token.usage' AND type = 'input' AND timestamp >= datetime('now',"
                              " '-30 days')").fetchone()[0]
    conn.close()
    out = {}
    for st in statements:
        proc = subprocess.run([sqlite, "-batch", "-bail", str(captures_db), st + ";"], capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 0 and not proc.stderr, (st, proc.stderr)
        out[st.split()[0] + str(len(out))] = proc.stdout
    assert int(out["SELECT0"]) == metrics_before
    assert int(out["SELECT1"]) == 16 * 11 + 3 + 11 + 7  # 16 per standard session, 3 retention_sweep, old, error
    assert out["SELECT2"].count("claude_code.user_prompt") == 5
    hourly = out["SELECT6"].strip().splitlines()
    assert sum(float(line.split("|")[1]) for line in hourly) == kept_input
    assert metrics_before and kept_input in (0, 5100 * 12)


def test_custom_attributes_keep_native_types_and_resource(captures_db: Path | str) -> None:
    def one(sql: str) -> tuple[object, ...]:
        return stored.rows(captures_db, sql + " ORDER BY timestamp LIMIT 1")[0]  # the first, on either backend

    attrs = json.loads(one("SELECT custom_attributes FROM events WHERE"
                           " event_name='claude_code.managed_settings_resolved'")[0])
    assert attrs["managed_settings.sources"] == []
    assert attrs["anthropic.custom_base_url"] is True
    assert attrs["event.sequence"] == 0
    assert attrs["team"] == "platform" and attrs["department"] == "eng"
    assert attrs["service.name"] == "claude-code" and attrs["otel.scope.name"] == "com.anthropic.claude_code.events"
    plugin = json.loads(one("SELECT custom_attributes FROM events WHERE event_name='claude_code.plugin_loaded'")[0])
    assert plugin["has_hooks"] is True and plugin["skill_path_count"] == 0 and plugin["safe_mode"] == "false"
    success, duration, attributes = one("SELECT success, duration_ms, custom_attributes FROM events"
                                        " WHERE event_name='claude_code.tool_result' AND tool_name='Write'")
    assert success == "true" and type(duration) is int  # SQLite's typeof 'integer'; a bigint on PostgreSQL
    assert json.loads(attributes)["tool_input_size_bytes"] == "71"
    api = one("SELECT cost_usd, input_tokens, model, app_version, terminal_type, user_id IS NOT NULL FROM events"
              " WHERE event_name='claude_code.api_request'")
    assert (type(api[0]), type(api[1])) == (float, int)  # SQLite's typeof 'real' and 'integer'
    assert api[2:] == ("claude-opus-5-5", "2.1.332", "dumb", True)
    metric = one("SELECT tool, decision, language, type FROM metrics WHERE"
                 " metric_name='claude_code.code_edit_tool.decision'")
    assert metric == ("Write", "accept", "Plain text", None)


def test_timestamps_read_back_as_utc_text(captures_db: Path | str) -> None:
    for table in ("metrics", "events", "spans"):
        ts = stored.scalar(captures_db, f"SELECT timestamp FROM {table} LIMIT 1")
        assert re.fullmatch(r"2026-11-27 \d\d:\d\d:\d\d\.\d{3}", ts), ts
        if is_url(captures_db):  # a real time: read back in UTC, whatever the session's zone
            assert stored.scalar(captures_db, "SELECT data_type FROM information_schema.columns WHERE table_name = ?"
                                 " AND column_name = 'timestamp'", (table,)) == "timestamp with time zone"
        else:  # SQLite's own time text
            assert stored.scalar(captures_db, "SELECT datetime(?) IS NOT NULL", (ts,)) == 1


@pytest.mark.parametrize("table", ["metrics", "events", "spans"])
def test_time_ranges_are_index_driven(captures_db: Path | str, table: str) -> None:
    if not is_url(captures_db):
        plan = sqlite3.connect(captures_db).execute(
            f"EXPLAIN QUERY PLAN SELECT COUNT(*) FROM {table} WHERE timestamp >= datetime('now','-1 day')").fetchall()
        assert any("USING" in row[-1] and "INDEX" in row[-1] for row in plan), plan
        return
    with stored.reader(captures_db) as reader:  # a few rows: only a planner told to avoid scans shows an index
        reader.execute("SET enable_seqscan = off")
        plan = "\n".join(r[0] for r in reader.execute(
            f"EXPLAIN SELECT COUNT(*) FROM {table} WHERE timestamp >= now() - interval '1 day'").fetchall())
    assert "Index" in plan and "Seq Scan" not in plan, plan


def test_migrations_are_recorded_and_idempotent(captures_db: Path | str) -> None:
    if is_url(captures_db):
        from ccmonitor.store.postgres.schema import MIGRATIONS as PG_MIGRATIONS
        from ccmonitor.store.postgres.schema import migrate as pg_migrate
        with psycopg.connect(str(captures_db), autocommit=True) as pg:
            names = [r[0] for r in pg.execute("SELECT name FROM schema_migrations ORDER BY name")]
            assert names == sorted(name for name, _ in PG_MIGRATIONS)
            assert pg_migrate(pg) == []
        return
    from ccmonitor.store.sqlite.schema import MIGRATIONS, migrate
    conn = sqlite3.connect(captures_db, isolation_level=None)
    names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
    assert names == sorted(name for name, _ in MIGRATIONS)
    assert migrate(conn) == []
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_migration_failing_on_a_full_disk_raises_its_own_error(tmp_path: Path) -> None:
    """SQLite rolls the transaction back itself after SQLITE_FULL; the runner's ROLLBACK must not then
    replace the cause with 'cannot rollback - no transaction is active'."""
    from ccmonitor.store.sqlite.schema import migrate
    with TinyDisk(tmp_path / "disk") as disk:
        conn = sqlite3.connect(disk.root / "m.db", isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at DATETIME NOT NULL)")
            disk.fill()
            with pytest.raises(sqlite3.OperationalError, match="^database or disk is full$"):
                migrate(conn)
            assert not conn.in_transaction
        finally:
            conn.close()
