"""SQLite's migrations on a file written before them: migration 0006 builds rollup_metrics_users from the
rows already stored, and from then on the writer and the triggers keep it exact."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from ccmonitor.store.sqlite.writer import open_database
from test_queries_rollups import assert_rollups_exact, make_demo


def test_migration_0006_builds_the_user_rollup_for_existing_rows(tmp_path: Path) -> None:
    db = tmp_path / "before-0006.db"
    make_demo(db)
    with closing(sqlite3.connect(db)) as conn:  # the file as 0005 left it
        for kind, name in conn.execute("SELECT type, name FROM sqlite_master WHERE name LIKE 'rollup_metrics_users%'"
                                       " ORDER BY type = 'table'").fetchall():
            conn.execute(f"DROP {kind.upper()} {name}")
        conn.execute("DELETE FROM schema_migrations WHERE name = '0006_user_rollups'")
        conn.commit()
        assert conn.execute("SELECT COUNT(*) FROM metrics WHERE metric_name = 'claude_code.cost.usage'").fetchone()[0]
    conn = open_database(db)
    try:
        assert conn.execute("SELECT COUNT(*) FROM rollup_metrics_users").fetchone()[0]
        assert_rollups_exact(conn)
        assert {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"
                                           " AND name LIKE 'rollup_metrics_users%'")} == {
            "rollup_metrics_users_delete", "rollup_metrics_users_update"}
        conn.execute("DELETE FROM metrics WHERE id % 4 = 0")
        assert_rollups_exact(conn)
    finally:
        conn.close()
