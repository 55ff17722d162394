"""What tokens cost (run by hand): the same ingest over HTTP/protobuf into a fresh SQLite file (or a
fresh PostgreSQL database with --db) by a server that asks for no token (the baseline), one with
--auth-token, and one where every request carries a database token (role ingest, two --attr values:
a lookup per request, and the attributes stamped on every resource); then the dashboard's overview
read as admin and as viewer (the viewer's JSON passes web/privacy.scrub). All in one run.

    .venv/bin/python benchmarks/auth.py [--records 100000] [--clients 8] [--db postgresql://...]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import databases
import httpx
from ingest import ServerProcess, build_requests, run_clients

ADMIN = "bench-admin-token"


def token(db: str, name: str, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "ccmonitor", "token", "create", name, "--db", db, *args],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def sender(port: int, bearer: str | None):
    def make():
        client = httpx.Client(timeout=60)
        headers = {"content-type": "application/x-protobuf"}
        if bearer:
            headers["authorization"] = f"Bearer {bearer}"

        def send(body: bytes) -> int:
            return client.post(f"http://127.0.0.1:{port}/v1/logs", content=body, headers=headers).status_code
        return send
    return make


def fresh(args: argparse.Namespace, tmp: Path, label: str) -> str:
    if args.db:
        url = f"{args.db}_{label}"
        databases.create(url, fresh=True)
        return url
    return str(tmp / f"{label}.db")


def ingest(args: argparse.Namespace, tmp: Path, bodies: list[bytes], mode: str) -> dict:
    db = fresh(args, tmp, f"auth_{mode}")
    bearer = None
    options: dict[str, str] = {}
    if mode == "auth-token":
        options["auth_token"] = bearer = ADMIN
    elif mode == "db-token":
        bearer = token(db, "laptop", "--attr", "team=platform", "--attr", "cost_center=4711")
    server = ServerProcess(db, **options)
    try:
        cpu = server.cpu_s()
        result = run_clients(sender(server.ports["http"], bearer), bodies, args.clients)
        result["cpu_s"] = server.cpu_s() - cpu
        result["app"] = server.ports["app"]
        result["bearer"] = bearer
        if mode == "db-token":
            viewer = token(db, "lead", "--role", "viewer")
            admin = token(db, "admin-reader", "--role", "admin")
            result["reads"] = {who: overview(server.ports["app"], b, args.runs)
                               for who, b in (("admin", admin), ("viewer", viewer))}
    finally:
        server.stop()
        if args.db:
            databases.drop(db)
    return result


def overview(port: int, bearer: str, runs: int) -> dict:
    client = httpx.Client(timeout=60, headers={"authorization": f"Bearer {bearer}"})
    url = f"http://127.0.0.1:{port}/api/overview?range=custom&from=2026-11-26T00:00:00Z&to=2026-12-01T00:00:00Z"
    assert client.get(url).status_code == 200
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        assert client.get(url).status_code == 200
        times.append(1000 * (time.perf_counter() - t))
    times.sort()
    return {"p50_ms": statistics.median(times), "p95_ms": times[int(len(times) * 0.95) - 1]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--db", help="a postgresql:// URL prefix: databases <prefix>_auth_<mode> are made afresh")
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python"
          f" {platform.python_version()}, {'PostgreSQL' if args.db else 'SQLite'}; {args.records:,} records in"
          f" requests of 100, {args.clients} HTTP/protobuf clients")
    bodies = build_requests(args.records)
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("open", "auth-token", "db-token"):
            r = ingest(args, Path(tmp), bodies, mode)
            assert r["ok"] == len(bodies) and r["other"] == 0, r
            print(f"{mode:>10}: {args.records / r['elapsed']:8,.0f} records/s  p50 {r['p50_ms']:6.1f} ms"
                  f"  p95 {r['p95_ms']:6.1f} ms  server CPU {1e6 * r['cpu_s'] / args.records:5.1f} us/record"
                  f"  (503s {r['503']})")
            for who, stats in r.get("reads", {}).items():
                print(f"    /api/overview as {who:>6}: p50 {stats['p50_ms']:6.1f} ms  p95 {stats['p95_ms']:6.1f} ms")


if __name__ == "__main__":
    main()
