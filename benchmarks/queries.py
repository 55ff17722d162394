"""Dashboard query benchmark (run by hand): latency of every panel's API call and of the whole
overview, over a demo history, on SQLite or PostgreSQL.

    .venv/bin/python benchmarks/queries.py --db /tmp/bench.db                    # an existing history
    .venv/bin/python benchmarks/queries.py --db /tmp/bench.db --generate \\
        --users 200 --days 365 --events 10000000                                  # build it first
    .venv/bin/python benchmarks/queries.py --db postgresql://postgres@127.0.0.1:5432/ccm_bench_10m \\
        --generate --events 10500000 --end 2026-11-27T00:00:00Z                   # the same on PostgreSQL

`--via api` (the default) times each call through a real `ccmonitor serve` process over HTTP, JSON
included, which is what the dashboard waits for. `--via store` makes the very same calls in this
process through `open_store(db).read(...)` with the functions the API calls (no HTTP, no JSON): the
database's share. `--generate` builds the history first through `Ingest.export`, the receivers' own
path (what `ccmonitor demo` does), so every row, rollup and partition is the store's own work; a
PostgreSQL database is created for it (it must not hold a history yet) and kept for reruns. `--vacuum`
first does what autovacuum would have done by then (statistics, dead rollup versions): measure a
PostgreSQL history with it unless the server runs autovacuum and has caught up.

Ranges end at the newest record, so a history built last week measures the same as a fresh one.
Each call is made once to warm up, then --runs times in a row; p50/p95/max are reported per call.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import http.client
import os
import platform
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import databases

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ccmonitor.queries.panels import PANELS  # noqa: E402

RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
Call = Callable[[], object]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def describe(db: str) -> dict[str, object]:
    return describe_postgres(db) if databases.is_postgres(db) else describe_sqlite(Path(db))


def describe_sqlite(db: Path) -> dict[str, object]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("events", "metrics", "spans")}
        first, last = conn.execute("SELECT MIN(timestamp), MAX(timestamp) FROM events").fetchone()
        users = conn.execute("SELECT COUNT(DISTINCT user_email) FROM metrics").fetchone()[0]
        session = conn.execute("SELECT session_id FROM events WHERE timestamp >= datetime(?, '-1 day')"
                               " AND event_name = 'claude_code.user_prompt' LIMIT 1", [last]).fetchone()[0]
        user, team = conn.execute("SELECT user_email, json_extract(custom_attributes, '$.team') FROM metrics"
                                  " WHERE timestamp >= datetime(?, '-1 day') LIMIT 1", [last]).fetchone()
    finally:
        conn.close()
    return {"rows": rows, "first": first, "last": datetime.fromisoformat(last), "users": users, "session": session,
            "user": user, "team": team,
            "size_gb": sum(p.stat().st_size for p in db.parent.glob(db.name + "*")) / 1e9}


def describe_postgres(url: str) -> dict[str, object]:
    import psycopg

    with psycopg.connect(url) as conn:
        def one(sql: str, *params: object) -> Any:
            return conn.execute(sql, params).fetchone()  # type: ignore[arg-type]

        conn.execute("SET TIME ZONE 'UTC'")
        rows = {t: one(f"SELECT COUNT(*) FROM {t}")[0] for t in ("events", "metrics", "spans")}
        first, last = one("SELECT MIN(timestamp), MAX(timestamp) FROM events")
        users = one('SELECT COUNT(DISTINCT "user") FROM rollup_sessions')[0]
        session = one("SELECT session_id FROM events WHERE timestamp >= %s - interval '1 day'"
                      " AND event_name = 'claude_code.user_prompt' LIMIT 1", last)[0]
        user, team = one("SELECT user_email, custom_attributes ->> 'team' FROM metrics"
                         " WHERE timestamp >= %s - interval '1 day' LIMIT 1", last)
        size = one("SELECT pg_database_size(current_database())")[0]
    return {"rows": rows, "first": first.astimezone(UTC).replace(tzinfo=None),
            "last": last.astimezone(UTC).replace(tzinfo=None), "users": users,
            "session": session, "user": user, "team": team, "size_gb": size / 1e9}


def generate(db: str, users: int, days: int, events: int, end: datetime, seed: int) -> None:
    """The history, through Ingest.export into the store (ccmonitor demo's in-process path)."""
    from ccmonitor.demo.catalog import EVENTS_PER_USER_DAY
    from ccmonitor.demo.history import history
    from ccmonitor.demo.sinks import into_database

    postgres = databases.is_postgres(db)
    if postgres and not databases.create(db, fresh=False):
        raise SystemExit(f"{databases.name_of(db)} exists already: drop it, or leave out --generate to measure it")
    started = last = time.monotonic()

    def progress(n: int) -> None:
        nonlocal last
        if time.monotonic() - last >= 60:
            last = time.monotonic()
            print(f"  {n:,} events, {n / (last - started):,.0f}/s", file=sys.stderr, flush=True)

    requests = history(users, days, end, events / (users * days * EVENTS_PER_USER_DAY), seed, 0.05)
    done = asyncio.run(into_database(db if postgres else Path(db), requests, progress))
    took = time.monotonic() - started
    print(f"generated {done:,} events in {took:.0f} s ({done / took:,.0f} events/s)", flush=True)


def get(port: int, path: str) -> bytes:
    """One request on its own connection: on a kept-alive connection a small response can wait ~40 ms for
    a delayed ACK (Nagle) unless the server sets TCP_NODELAY, which would measure the socket, not the query."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status} {body[:200]!r}")
        return body
    finally:
        conn.close()


def measure(call: Call, runs: int) -> list[float]:
    call()
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        call()
        out.append((time.perf_counter() - t) * 1000)
    return out


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[-(-len(ordered) * 95 // 100) - 1]


def calls(info: dict[str, object], until: datetime) -> list[tuple[str, str]]:
    out = []
    for name, span in RANGES.items():
        q = urlencode({"range": "custom", "from": (until - span).isoformat() + "Z", "to": until.isoformat() + "Z"})
        out += [(f"{name} panel {p}", f"/api/panels/{p}?{q}") for p in PANELS]
        out += [(f"{name} overview (all panels)", f"/api/overview?{q}"), (f"{name} sessions", f"/api/sessions?{q}"),
                (f"{name} facets", f"/api/facets?{q}")]
        for label, extra in (("user", {"user": info["user"]}), ("team", {"attr.team": info["team"]}),
                             ("model", {"model": "claude-opus-5-5"})):
            out.append((f"{name} overview, {label} filter", f"/api/overview?{q}&{urlencode(extra)}"))
        team = urlencode({"by": "team"})
        out += [(f"{name} team page (per user)", f"/api/team?{q}"),
                (f"{name} team page, by team", f"/api/team?{q}&{team}"),
                (f"{name} team leaderboard CSV, by team", f"/api/team/leaderboard.csv?{q}&{team}&rows=groups"),
                (f"{name} report users", f"/api/reports/users?{q}&tz=UTC"),
                (f"{name} report daily, by team", f"/api/reports/daily?{q}&tz=UTC&{team}"),
                (f"{name} report adoption", f"/api/reports/adoption?{q}&tz=UTC"),
                (f"{name} report silent", f"/api/reports/silent?{q}&tz=UTC")]
    out.append(("session story", f"/api/sessions/{info['session']}"))
    return out


def chosen(listed: list[tuple[str, str]], only: list[str] | None) -> list[tuple[str, str]]:
    return [c for c in listed if not only or any(text in c[0] for text in only)]


def store_call(store: Any, path: str) -> Call:
    """What the API endpoint for `path` runs (web/api.py), as one store.read, without HTTP and JSON."""
    from starlette.datastructures import QueryParams

    from ccmonitor.queries import facets, periods, sessions, story, team
    from ccmonitor.queries.panels import overview
    from ccmonitor.web import params
    from ccmonitor.web.api import csv_text, has_data, team_view

    parts = urlsplit(path)
    route = parts.path.removeprefix("/api/")
    if route.startswith("sessions/"):
        session_id = route.removeprefix("sessions/")
        return lambda: store.read(lambda conn: story.session_story(conn, session_id))
    q = QueryParams(parts.query)
    f, by = params.filters(q), params.group_key(q)
    if route == "team":
        return lambda: store.read(lambda conn: team_view(conn, f, by, params.days(q)))
    if route == "team/leaderboard.csv":
        return lambda: store.read(lambda conn: csv_text(team.leaderboard(conn, f, by)[q.get("rows") or "users"]))
    if route.startswith("reports/"):
        name = route.removeprefix("reports/")
        return lambda: store.read(lambda conn: periods.report(conn, name, f, params.zone(q), False, by, params.days(q)))
    if route == "overview":
        return lambda: store.read(lambda conn: (has_data(conn), overview(conn, f)))
    if route == "sessions":
        return lambda: store.read(lambda conn: sessions.list_sessions(conn, f, sessions.PAGE, 0))
    if route == "facets":
        return lambda: store.read(lambda conn: facets.facets(conn, f))
    panel = PANELS[route.removeprefix("panels/")]
    return lambda: store.read(lambda conn: panel.query(conn, f))


def backend_line(db: str) -> str:
    if databases.is_postgres(db):
        return f"PostgreSQL {databases.version(db)} ({databases.settings(db)})"
    return f"SQLite {sqlite3.sqlite_version}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True, help="a SQLite file or a postgresql:// URL")
    ap.add_argument("--via", choices=("api", "store"), default="api",
                    help="api: HTTP to a `ccmonitor serve` process; store: open_store(db).read in this process")
    ap.add_argument("--generate", action="store_true", help="build the history first through Ingest.export")
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--end", help="when the generated history ends (ISO 8601, default now)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--only", action="append", metavar="TEXT",
                    help="time only the calls whose label contains TEXT (repeatable), e.g. --only team")
    ap.add_argument("--vacuum", action="store_true",
                    help="PostgreSQL: VACUUM (ANALYZE) every table first, as autovacuum would (for a server that runs"
                         " without it, or right after --generate)")
    args = ap.parse_args()
    if args.generate:
        end = datetime.fromisoformat(args.end.replace("Z", "+00:00")) if args.end else datetime.now(UTC)
        generate(args.db, args.users, args.days, args.events, end if end.tzinfo else end.replace(tzinfo=UTC),
                 args.seed)
    if args.vacuum and databases.is_postgres(args.db):
        t = time.monotonic()
        tables = databases.vacuum_analyze(args.db)
        print(f"VACUUM (ANALYZE) of {len(tables)} tables in {time.monotonic() - t:.0f} s", flush=True)
    info = describe(args.db)
    last = info["last"]
    assert isinstance(last, datetime)
    until = last.replace(microsecond=0) + timedelta(seconds=1)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {backend_line(args.db)}; via {args.via}")
    print(f"history: {info['rows']}, {info['users']} users, {info['first']} .. {info['last']}, "
          f"{info['size_gb']:.1f} GB\n")
    if args.via == "store":
        from ccmonitor.store import open_store

        store = open_store(args.db if databases.is_postgres(args.db) else Path(args.db), write=False)
        try:
            report([(label, store_call(store, path)) for label, path in chosen(calls(info, until), args.only)],
                   args.runs)
        finally:
            store.close()
        return
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "ccmonitor", "serve", "--db", args.db, "--app-port",
                               str(port), "--grpc-port", str(free_port()), "--http-port", str(free_port())],
                              stdout=subprocess.DEVNULL, cwd=ROOT)
    try:
        for _ in range(1200):  # the first start migrates the database (minutes for 10M rows)
            try:
                get(port, "/health")
                break
            except OSError:
                time.sleep(0.5)
        report([(label, functools.partial(get, port, path)) for label, path in chosen(calls(info, until), args.only)],
               args.runs)
    finally:
        server.terminate()
        server.wait(30)


def report(timed: list[tuple[str, Call]], runs: int) -> None:
    print("| call | p50 ms | p95 ms | max ms |\n|---|---:|---:|---:|")
    for label, call in timed:
        ms = measure(call, runs)
        print(f"| {label} | {statistics.median(ms):.1f} | {p95(ms):.1f} | {max(ms):.1f} |", flush=True)


if __name__ == "__main__":
    main()
