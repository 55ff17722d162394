"""Ingest benchmark (run by hand): sustained ingest of realistic Claude Code events over HTTP/protobuf
and gRPC, measured from the first send until every row is committed (a 200 means committed), against
the raw SQLite batched-insert rate of the same rows measured in the same run.

    .venv/bin/python benchmarks/ingest.py [--records 200000] [--clients 16] [--overload 60]

The server runs as its own process (`ccmonitor serve`), the clients in this one. Every record is
unique (its own time and event.sequence), 100 records per request, templates from the real capture.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc
import httpx
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "tests/data/captures/http-protobuf/otlp/0001-logs-httpproto.bin"
GRPC_LOGS = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"


def build_requests(n_records: int, per_request: int = 100, seed: int = 1) -> list[bytes]:
    template = ExportLogsServiceRequest.FromString(TEMPLATE.read_bytes())
    records = list(template.resource_logs[0].scope_logs[0].log_records)
    rnd = random.Random(seed)
    out = []
    t0 = 1_795_796_355_000_000_000
    for r in range(n_records // per_request):
        req = ExportLogsServiceRequest()
        rl = req.resource_logs.add()
        rl.resource.CopyFrom(template.resource_logs[0].resource)
        sl = rl.scope_logs.add()
        sl.scope.CopyFrom(template.resource_logs[0].scope_logs[0].scope)
        session = f"bench-{r // 20:06d}-{rnd.randrange(1 << 30):08x}"
        for i in range(per_request):
            n = r * per_request + i
            rec = sl.log_records.add()
            rec.CopyFrom(records[n % len(records)])
            rec.time_unix_nano = rec.observed_time_unix_nano = t0 + n * 1_000_000
            for kv in rec.attributes:
                if kv.key == "event.sequence":
                    kv.value.int_value = n
                elif kv.key == "session.id":
                    kv.value.string_value = session
        out.append(req.SerializeToString())
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    def __init__(self, db: Path, **options: str) -> None:
        self.ports = {"grpc": free_port(), "http": free_port(), "app": free_port()}
        prefix = os.environ.get("BENCH_SERVER_PREFIX", "-m ccmonitor").split()
        args = [sys.executable, *prefix, "serve", "--db", str(db),
                "--grpc-port", str(self.ports["grpc"]), "--http-port", str(self.ports["http"]),
                "--app-port", str(self.ports["app"])]
        for k, v in options.items():
            args += [f"--{k.replace('_', '-')}", v]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{self.ports['app']}/health").status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def rss_mb(self, field: str = "VmRSS") -> float:
        """The server's memory from /proc: VmRSS now, VmHWM the peak since it started."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def peak_rss_mb(self) -> float:
        return self.rss_mb("VmHWM")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)


def run_clients(send, bodies: list[bytes], clients: int, deadline: float | None = None) -> dict:
    """Each client sends its share; a 503 is retried after a short pause and counted."""
    latencies: list[float] = []
    counts = {"ok": 0, "503": 0, "other": 0}
    lock = threading.Lock()
    chunks = [bodies[i::clients] for i in range(clients)]

    def worker(mine: list[bytes]) -> None:
        sender = send()
        for body in mine:
            while True:
                if deadline and time.monotonic() > deadline:
                    return
                t = time.perf_counter()
                try:
                    status = sender(body)
                except Exception:  # a transport error: the request may or may not have been stored
                    status = -1
                dt = time.perf_counter() - t
                with lock:
                    latencies.append(dt)
                    counts["ok" if status == 200 else "503" if status == 503 else "other"] += 1
                if status == 200:
                    break
                time.sleep(0.2 if deadline is None else 0.05)  # clients back off before retrying

    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {"elapsed": elapsed, **counts,
            "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1]}


def http_sender(port: int):
    def make():
        client = httpx.Client(timeout=60)

        def send(body: bytes) -> int:
            return client.post(f"http://127.0.0.1:{port}/v1/logs", content=body,
                               headers={"content-type": "application/x-protobuf"}).status_code
        return send
    return make


def grpc_sender(port: int):
    def make():
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        call = channel.unary_unary(GRPC_LOGS)

        def send(body: bytes) -> int:
            try:
                call(body, timeout=60)
                return 200
            except grpc.RpcError as exc:
                return 503 if exc.code() == grpc.StatusCode.UNAVAILABLE else 500
        return send
    return make


def raw_sqlite_rate(bodies: list[bytes], workdir: Path, synchronous: str) -> float:
    """The same rows, already converted, inserted with executemany in 100-row batches, one commit per
    2,000 rows (about what group commit achieves under load), same schema, pragmas, attribute sets and
    rollup upkeep."""
    from ccmonitor.otlp.logs import to_batch
    from ccmonitor.store.attribute_sets import record_sessions
    from ccmonitor.store.sqlite.rollups import refresh_rollups
    from ccmonitor.store.sqlite.writer import INSERT_EVENT, open_database
    batches = [to_batch(ExportLogsServiceRequest.FromString(body), True)[0] for body in bodies]
    conn = open_database(workdir / "raw.db", synchronous)
    start = time.perf_counter()
    for i in range(0, len(batches), 20):
        conn.execute("BEGIN IMMEDIATE")
        since = conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
        for batch in batches[i:i + 20]:
            record_sessions(conn, batch.attribute_sets, batch.session_sets)
            conn.executemany(INSERT_EVENT, batch.events)
        refresh_rollups(conn, {"events": since})
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    n = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    conn.close()
    return n / elapsed


def count(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    finally:
        conn.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--overload", type=int, default=0, help="seconds of an overload run (0 = skip)")
    ap.add_argument("--synchronous", default="FULL")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
          f" SQLite {sqlite3.sqlite_version}; synchronous={args.synchronous}")
    bodies = build_requests(args.records)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        raw = raw_sqlite_rate(bodies, work, args.synchronous)
        print(f"raw SQLite batched insert of the same rows: {raw:,.0f} records/s")
        for name, sender in (("http/protobuf", http_sender), ("grpc", grpc_sender)):
            db = work / f"{name.replace('/', '-')}.db"
            server = ServerProcess(db, synchronous=args.synchronous)
            try:
                port = server.ports["http" if name != "grpc" else "grpc"]
                result = run_clients(sender(port), bodies, args.clients)
                stored = count(db)
                rate = stored / result["elapsed"]
                print(f"{name:14s} {rate:9,.0f} records/s  ({rate / raw:.2f} of raw)  stored {stored:,}/"
                      f"{args.records:,}  503s {result['503']}  other errors {result['other']}  p50"
                      f" {result['p50_ms']:.1f} ms  p99 {result['p99_ms']:.1f} ms  peak RSS"
                      f" {server.peak_rss_mb():.0f} MB")
            finally:
                server.stop()
        if args.overload:
            db = work / "overload.db"
            server = ServerProcess(db, synchronous=args.synchronous)
            try:
                big = build_requests(1000 * 25 * args.overload, per_request=1000, seed=2)  # all unique
                deadline = time.monotonic() + args.overload
                result = run_clients(http_sender(server.ports["http"]), big, 64, deadline=deadline)
                print(f"overload {args.overload}s, 64 clients x 1000-record requests: ok {result['ok']},"
                      f" 503 {result['503']}, other {result['other']}, stored {count(db):,} ="
                      f" {1000 * result['ok']:,} acknowledged; peak RSS {server.peak_rss_mb():.0f} MB")
            finally:
                server.stop()


if __name__ == "__main__":
    main()
