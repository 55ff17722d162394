"""`ccmonitor export` from the terminal (the streaming itself: tests/test_export.py)."""

from __future__ import annotations

from pathlib import Path

import stored
from test_commands import run


def test_export_to_a_file(captures_db: Path | str, tmp_path: Path) -> None:
    out = tmp_path / "metrics.jsonl"
    result = run("export", "--db", str(captures_db), "--table", "metrics", "--format", "jsonl", "-o", str(out))
    lines = out.read_text().splitlines()
    assert result.exit_code == 0 and f"exported {len(lines)} metrics rows" in result.stderr
    assert len(lines) == stored.scalar(captures_db, "SELECT COUNT(*) FROM metrics")
    first = run("export", "--db", str(captures_db), "--table", "spans", "--since", "2026-11-27").stdout
    assert first.startswith("id,timestamp,end_timestamp,")
