"""Grafana benchmark (run by hand): the database time of a full refresh of the provisioned Grafana
dashboard (every panel's and variable's SQL, expanded the way Grafana and the datasource expand it) next
to the built-in overview (every /api/overview panel through store.read), on the same history and range,
in one run, for a SQLite file and a PostgreSQL database.

    .venv/bin/python benchmarks/grafana.py --db /tmp/grafana.db --postgres-url postgresql://postgres@127.0.0.1/bench \\
        --generate --users 200 --days 31 --events 724000 --end 2026-11-27T00:00:00Z

--generate fills each store that has no events yet with `ccmonitor demo`'s history (through
Ingest.export, the receivers' own path). Ranges end at the newest record. Each run times the built-in
overview, then every Grafana query one after the other (the database time of a refresh; Grafana sends
them concurrently), each on a connection as its datasource makes them, interleaved, after one warm-up
round; the table gives medians. The chart interval is
the one Grafana computes for the panels' maxDataPoints. --before REV also times the SQLite dashboard at a
git revision (e.g. the raw-row panels before issue #14).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests"), str(ROOT / "deploy" / "grafana")]

from dashboards import CHART_POINTS, dashboard  # noqa: E402

import grafana_macros  # noqa: E402  (tests/grafana_macros.py: Grafana's expansion)
from ccmonitor.queries.filters import Filters  # noqa: E402
from ccmonitor.queries.panels import overview  # noqa: E402
from ccmonitor.store import is_url, open_store  # noqa: E402

RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
Execute = Callable[[str], object]
# what deploy/postgres/initdb/10-ccmonitor-roles.sh sets for grafana_reader
ROLE_SETTINGS = ("SET default_transaction_read_only = on", "SET statement_timeout = '30s'",
                 "SET max_parallel_workers_per_gather = 0")


def generate(db: str, users: int, days: int, events: int, end: datetime, seed: int) -> None:
    from ccmonitor.demo.catalog import EVENTS_PER_USER_DAY
    from ccmonitor.demo.history import history
    from ccmonitor.demo.sinks import into_database

    if has_tables(db) and newest(db) is not None:
        print(f"{db}: has a history already, not generating")
        return
    started = time.monotonic()
    per_day = events / (users * days * EVENTS_PER_USER_DAY)
    sent = asyncio.run(into_database(db, history(users, days, end, per_day, seed, 0.05), lambda n: None))
    print(f"{db}: {sent:,} events in {time.monotonic() - started:.0f}s")


def has_tables(db: str) -> bool:
    """Whether ccmonitor has created its tables there (a new file or database has none yet)."""
    if not is_url(db):
        return Path(db).exists()
    import psycopg

    with psycopg.connect(db) as conn:
        return conn.execute("SELECT to_regclass('events') IS NOT NULL").fetchone() == (True,)


def newest(db: str) -> datetime | None:
    store = open_store(db, write=False)
    try:
        last = store.read(lambda conn: conn.execute("SELECT MAX(timestamp) FROM events").fetchone()[0])
    finally:
        store.close()
    return datetime.fromisoformat(last).replace(tzinfo=UTC) if last else None


def connect(db: str, settings: tuple[str, ...] = ROLE_SETTINGS) -> tuple[Execute, Callable[[], None]]:
    """Run a query as the datasource does: frser-sqlite-datasource opens the file read-only for every
    query (pkg/plugin/query.go); Grafana's PostgreSQL datasource keeps a pool of connections, here one
    with the settings the compose stack gives grafana_reader."""
    if is_url(db):
        import psycopg

        pg = psycopg.connect(db, autocommit=True)
        for setting in settings:
            pg.execute(setting)
        return (lambda text: pg.execute(text).fetchall()), pg.close  # type: ignore[arg-type]

    def once(text: str) -> object:
        lite = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            lite.execute("PRAGMA query_only = 1")
            return lite.execute(text).fetchall()
        finally:
            lite.close()

    return once, lambda: None


def queries(board: dict[str, Any], backend: str, start: datetime, end: datetime) -> list[tuple[str, str]]:
    """(title, expanded SQL) for every panel and variable of a refresh."""
    variables = {v["name"]: v for v in board["templating"]["list"]}
    rng = (int(start.timestamp() * 1000), int(end.timestamp() * 1000))
    interval = grafana_macros.interval_ms((end - start).total_seconds() * 1000, CHART_POINTS, 60_000)
    out = []
    for p in board["panels"]:
        target = p["targets"][0]
        text = target.get("rawQueryText") or target.get("rawSql")
        out.append((p["title"], grafana_macros.expand(backend, text, variables, *rng, interval_ms=interval)))
    for name, v in variables.items():
        out.append((f"variable {name}", grafana_macros.expand(backend, v["query"], variables, *rng)))
    return out


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


Board = tuple[dict[str, Any], tuple[str, ...]]  # a dashboard, the session settings its queries run with


def bench(db: str, span: timedelta, runs: int, boards: dict[str, Board]) -> dict[str, Any]:
    backend = "postgres" if is_url(db) else "sqlite"
    last = newest(db)
    assert last is not None, f"{db} has no events: use --generate"
    end = last.replace(microsecond=0) + timedelta(seconds=1)
    start = end - span
    f = Filters(since=start, until=end)
    store = open_store(db, write=False)
    connections = {label: connect(db, settings) for label, (_, settings) in boards.items()}
    plans = {label: queries(board, backend, start, end) for label, (board, _) in boards.items()}
    times: dict[str, dict[str, list[float]]] = {label: {} for label in ["built-in overview", *plans]}
    try:
        for run in range(runs + 1):
            overview_ms = timed(lambda: store.read(lambda conn: overview(conn, f)))
            rounds = {label: {title: timed(lambda s=text, x=connections[label][0]: x(s))  # type: ignore[misc]
                              for title, text in plan}
                      for label, plan in plans.items()}
            if run == 0:
                continue  # warm-up
            times["built-in overview"].setdefault("total", []).append(overview_ms)
            for label, per_query in rounds.items():
                for title, ms in per_query.items():
                    times[label].setdefault(title, []).append(ms)
                times[label].setdefault("total", []).append(sum(per_query.values()))
    finally:
        for _, close in connections.values():
            close()
        store.close()
    return {label: {k: statistics.median(v) for k, v in per.items()} for label, per in times.items()}


def before_board(rev: str) -> dict[str, Any]:
    text = subprocess.run(["git", "show", f"{rev}:deploy/grafana/dashboards/claude-code-monitoring.json"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout
    return json.loads(text)  # type: ignore[no-any-return]


def describe(db: str) -> str:
    store = open_store(db, write=False)
    try:
        counts = store.read(lambda conn: [conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                                          for t in ("events", "metrics")])
        users = store.read(lambda conn: conn.execute("SELECT COUNT(DISTINCT \"user\") FROM rollup_sessions")
                           .fetchone()[0])
    finally:
        store.close()
    if is_url(db):
        import psycopg

        with psycopg.connect(db) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
            buffers = conn.execute("SHOW shared_buffers").fetchone()[0]  # type: ignore[index]
        engine = f"PostgreSQL {version} (shared_buffers {buffers})"
    else:
        engine = f"SQLite {sqlite3.sqlite_version}"
    return f"{engine}: {counts[0]:,} events, {counts[1]:,} metric points, {users} users"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="a SQLite file")
    ap.add_argument("--postgres-url", help="a postgresql:// database")
    ap.add_argument("--generate", action="store_true", help="fill each empty store with the demo history first")
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--days", type=int, default=31)
    ap.add_argument("--events", type=int, default=724_000)
    ap.add_argument("--end", default="2026-11-27T00:00:00Z")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ranges", default="30d", help="comma-separated: 24h, 7d, 30d")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--before", help="also time the SQLite dashboard at this git revision")
    ap.add_argument("--parallel-too", action="store_true",
                    help="also time the PostgreSQL dashboard with parallel workers (the server's default)")
    args = ap.parse_args()
    targets = [db for db in (args.db, args.postgres_url) if db]
    if not targets:
        ap.error("give --db, --postgres-url or both")
    if args.generate:
        end = datetime.fromisoformat(args.end.replace("Z", "+00:00"))
        for db in targets:
            generate(db, args.users, args.days, args.events, end, args.seed)
    load = os.getloadavg()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
          f" load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    for db in targets:
        print(describe(db))
    for name in args.ranges.split(","):
        for db in targets:
            backend = "postgres" if is_url(db) else "sqlite"
            boards: dict[str, Board] = {"Grafana": (dashboard(backend), ROLE_SETTINGS)}
            if args.before and backend == "sqlite":
                boards[f"Grafana at {args.before}"] = (before_board(args.before), ())
            if args.parallel_too and backend == "postgres":
                boards["Grafana, parallel workers on"] = (dashboard(backend), ROLE_SETTINGS[:-1])
            result = bench(db, RANGES[name], args.runs, boards)
            report(f"{name}, {backend}", result)


def report(title: str, result: dict[str, dict[str, float]]) -> None:
    overview_ms = result["built-in overview"]["total"]
    print(f"\n{title}: built-in overview {overview_ms:.1f} ms (median)")
    labels = [label for label in result if label != "built-in overview"]
    print("| query | " + " | ".join(f"{label} (ms)" for label in labels) + " |")
    print("|---|" + "---:|" * len(labels))
    titles = [t for t in result[labels[0]] if t != "total"]
    for t in titles:
        print(f"| {t} | " + " | ".join(f"{result[label].get(t, float('nan')):.1f}" for label in labels) + " |")
    print("| **full refresh** | " + " | ".join(f"**{result[label]['total']:.1f}**" for label in labels) + " |")
    for label in labels:
        rest = result[label]["total"] - result[label].get("Cost by user", 0)
        print(f"{label}: full refresh {result[label]['total'] / overview_ms:.2f}x the built-in overview,"
              f" {rest / overview_ms:.2f}x without Cost by user")


if __name__ == "__main__":
    main()
