"""A Rollup (store/aggregates.py) stays equal to a GROUP BY over its source through the writer's
refresh, deletes, updates that move rows between groups, and rows its `when` leaves out."""

from __future__ import annotations

import random
import sqlite3
from contextlib import closing

from ccmonitor.store.aggregates import Rollup

ROLLUP = Rollup(name="toy_rollup", source="events", keys=(("day", "substr({r}.timestamp, 1, 10)"),
                                                             ("kind", "{r}.kind")),
                total=("amount", "{r}.amount"), when="{r}.amount > 0", watched=("timestamp", "kind", "amount"))


def raw(conn: sqlite3.Connection) -> dict[tuple[str, str], tuple[float, int]]:
    return {(d, k): (a, n) for d, k, a, n in conn.execute(
        "SELECT substr(timestamp, 1, 10), COALESCE(kind, ''), SUM(amount), COUNT(*) FROM events"
        " WHERE amount > 0 GROUP BY 1, 2")}


def rolled(conn: sqlite3.Connection) -> dict[tuple[str, str], tuple[float, int]]:
    return {(d, k): (a, n) for d, k, a, n in conn.execute("SELECT day, kind, amount, records FROM toy_rollup")}


def test_rollup_follows_inserts_deletes_and_updates() -> None:
    rng = random.Random(4)

    def rows(n: int) -> list[tuple[str, str | None, int]]:
        return [(f"2026-11-{rng.randrange(1, 5):02d} 10:00:00.000", rng.choice(["a", "b", None]),
                 rng.randrange(-3, 10)) for _ in range(n)]

    with closing(sqlite3.connect(":memory:", isolation_level=None)) as conn:
        conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, timestamp TEXT, kind TEXT, amount INTEGER)")
        conn.executemany("INSERT INTO events (timestamp, kind, amount) VALUES (?, ?, ?)", rows(200))
        for sql in (*ROLLUP.create(), *ROLLUP.triggers()):
            conn.execute(sql)
        assert rolled(conn) == raw(conn) and raw(conn)
        for _ in range(3):  # the writer: insert, then refresh the new ids in the same transaction
            since = conn.execute("SELECT MAX(id) FROM events").fetchone()[0]
            conn.executemany("INSERT INTO events (timestamp, kind, amount) VALUES (?, ?, ?)", rows(50))
            conn.execute(ROLLUP.refresh(), (since,))
        assert rolled(conn) == raw(conn)
        conn.execute("DELETE FROM events WHERE id % 3 = 0")
        conn.execute("UPDATE events SET kind = 'c', amount = -amount WHERE id % 5 = 0")
        conn.execute("UPDATE events SET timestamp = '2026-12-01 00:00:00.000' WHERE id % 7 = 0")
        assert rolled(conn) == raw(conn)
        conn.execute("DELETE FROM events")
        assert rolled(conn) == {}
