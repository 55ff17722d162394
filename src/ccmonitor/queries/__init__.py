"""The read side: named queries every view uses (dashboard, JSON API, CLI reports, /stats, tests).

Views get a read-only connection from `reader()` and never see the write side."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def reader(db: Path, busy_timeout_ms: int = 5000) -> sqlite3.Connection:
    """A read-only connection; WAL lets it read while the writer commits."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.row_factory = sqlite3.Row
    return conn
