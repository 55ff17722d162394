"""What /stats and `ccmonitor stats` report about the database itself."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

TABLES = ("metrics", "events", "spans")


def database_stats(conn: sqlite3.Connection, db: Path) -> dict[str, Any]:
    rows = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}
    latest = {t: conn.execute(f"SELECT MAX(timestamp) FROM {t}").fetchone()[0] for t in TABLES}
    size = sum(os.path.getsize(p) for p in (db, Path(f"{db}-wal")) if p.exists())
    return {
        "db_path": str(db),
        "db_size_bytes": size,
        "rows": rows,
        "latest_timestamp": latest,
    }
