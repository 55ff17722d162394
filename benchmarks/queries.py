"""Dashboard query benchmark (run by hand): latency of every panel's API call and of the whole
overview, over a demo history, through a real `ccmonitor serve` process (HTTP included).

    .venv/bin/python benchmarks/queries.py --db /tmp/bench.db                    # an existing history
    .venv/bin/python benchmarks/queries.py --db /tmp/bench.db --generate \\
        --users 200 --days 365 --events 10000000                                  # build it first

Ranges end at the newest record, so a history built last week measures the same as a fresh one.
Each call is made once to warm up, then --runs times in a row; p50/p95/max are reported per call.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ccmonitor.queries.panels import PANELS  # noqa: E402

RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def describe(db: Path) -> dict[str, object]:
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
    return {"rows": rows, "first": first, "last": last, "users": users, "session": session, "user": user,
            "team": team, "size_gb": sum(p.stat().st_size for p in db.parent.glob(db.name + "*")) / 1e9}


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


def measure(port: int, path: str, runs: int) -> list[float]:
    get(port, path)
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        get(port, path)
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
    out.append(("session story", f"/api/sessions/{info['session']}"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--generate", action="store_true", help="build the history first with `ccmonitor demo`")
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    if args.generate:
        t = time.monotonic()
        subprocess.run([sys.executable, "-c", "from ccmonitor.demo import demo_command; demo_command()",
                        "--users", str(args.users), "--days", str(args.days), "--events", str(args.events),
                        "--db", str(args.db)], check=True)
        print(f"generated in {time.monotonic() - t:.0f}s")
    info = describe(args.db)
    until = datetime.fromisoformat(str(info["last"])).replace(microsecond=0) + timedelta(seconds=1)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "ccmonitor", "serve", "--db", str(args.db), "--app-port",
                               str(port), "--grpc-port", str(free_port()), "--http-port", str(free_port())],
                              stdout=subprocess.DEVNULL, cwd=ROOT)
    try:
        for _ in range(1200):  # the first start migrates the database (minutes for 10M rows)
            try:
                get(port, "/health")
                break
            except OSError:
                time.sleep(0.5)
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
              f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}")
        print(f"history: {info['rows']}, {info['users']} users, {info['first']} .. {info['last']}, "
              f"{info['size_gb']:.1f} GB\n")
        print("| call | p50 ms | p95 ms | max ms |\n|---|---:|---:|---:|")
        for label, path in calls(info, until):
            ms = measure(port, path, args.runs)
            print(f"| {label} | {statistics.median(ms):.1f} | {p95(ms):.1f} | {max(ms):.1f} |", flush=True)
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
