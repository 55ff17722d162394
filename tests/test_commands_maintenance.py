"""`ccmonitor prune` and `ccmonitor stats` from the terminal."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from ccmonitor.store import open_store
from test_commands import run
from test_store_sqlite_retention import OLD, fill


def test_prune_dry_run_then_prune(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    fill(db, 120, OLD)
    fill(db, 30, datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.000"), prompt="recent")
    dry = run("prune", "--db", str(db), "--older-than", "30d", "--dry-run")
    assert dry.exit_code == 0 and re.search(r"events\s*│\s*120", dry.stdout)
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM events").fetchone()[0] == 150
    done = run("prune", "--db", str(db), "--older-than", "30d", "--prompts-older-than", "0m")
    assert done.exit_code == 0 and "pages_freed" in done.stdout and "done" in done.stderr
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*), COUNT(prompt) FROM events").fetchone() == (30, 0)
    conn.close()



def test_stats_is_what_stats_says(captures_db: Path) -> None:
    result = run("stats", "--db", str(captures_db), "--json")
    store = open_store(captures_db, write=False)
    expected = store.stats()
    store.close()
    body = json.loads(result.stdout)
    assert {k: body[k] for k in expected} == expected and body["rows"]["events"] == 197
    assert "rows.events" in run("stats", "--db", str(captures_db)).stdout
