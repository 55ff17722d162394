"""`ccmonitor prune` and `ccmonitor stats` from the terminal."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import stored
from ccmonitor.store import open_store
from test_commands import run

OLD = "2020-01-01 00:00:00.000"


def test_prune_dry_run_then_prune(db_target: Path | str) -> None:
    stored.fill(db_target, 120, OLD)
    stored.fill(db_target, 30, datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.000"), prompt="recent")
    db = str(db_target)
    dry = run("prune", "--db", db, "--older-than", "30d", "--dry-run")
    assert dry.exit_code == 0 and re.search(r"events\s*│\s*120", dry.stdout)
    assert stored.scalar(db_target, "SELECT COUNT(*) FROM events") == 150
    done = run("prune", "--db", db, "--older-than", "30d", "--prompts-older-than", "0m")
    assert done.exit_code == 0 and "pages_freed" in done.stdout and "done" in done.stderr
    assert stored.rows(db_target, "SELECT COUNT(*), COUNT(prompt) FROM events") == [(30, 0)]


def test_stats_is_what_stats_says(captures_db: Path | str) -> None:
    result = run("stats", "--db", str(captures_db), "--json")
    store = open_store(captures_db, write=False)
    expected = store.stats()
    store.close()
    body = json.loads(result.stdout)
    assert {k: body[k] for k in expected} == expected and body["rows"]["events"] == 197
    assert "rows.events" in run("stats", "--db", str(captures_db)).stdout
