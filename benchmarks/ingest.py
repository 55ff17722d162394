"""Ingest benchmark (run by hand): sustained ingest of realistic Claude Code events over HTTP/protobuf
and gRPC, measured from the first send until every row is committed (a 200 means committed), against
raw inserts of the same rows into the same database engine, measured in the same run.

    .venv/bin/python benchmarks/ingest.py [--records 200000] [--clients 16] [--overload 60]
    .venv/bin/python benchmarks/ingest.py --db postgresql://postgres@127.0.0.1:5432/ccm_bench_ingest

Without --db, each run writes a fresh SQLite file. With a postgresql:// URL, the database it names is
created afresh for each run (and dropped at the end): the clients send to one receiver, then to two
(`ccmonitor serve` twice on the same database, the clients split between them), on each transport;
the baselines are PostgreSQL alone storing the same converted rows (COPY into a plain table of the
same columns; and into ccmonitor's own tables through the writer's SQL, without a server).

The servers run as their own processes, the clients in this one. Every record is unique (its own time
and event.sequence), 100 records per request, templates from the real capture.
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

import databases
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
    def __init__(self, db: Path | str, **options: str) -> None:
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

    def cpu_s(self) -> float:
        return cpu_s(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (this machine's /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_clients(send, bodies: list[bytes], clients: int, deadline: float | None = None) -> dict:
    """Each client sends its share; a 503 is retried after a short pause and counted. `send` makes a
    client's sender; a list of them spreads the clients over several receivers (client i uses send[i % n])."""
    makers = send if isinstance(send, list) else [send]
    latencies: list[float] = []
    counts = {"ok": 0, "503": 0, "other": 0}
    lock = threading.Lock()
    chunks = [bodies[i::clients] for i in range(clients)]

    def worker(mine: list[bytes], make) -> None:
        sender = make()
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

    threads = [threading.Thread(target=worker, args=(c, makers[i % len(makers)])) for i, c in enumerate(chunks)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {"elapsed": elapsed, **counts,
            "p50_ms": 1000 * statistics.median(latencies),
            "p95_ms": 1000 * latencies[int(len(latencies) * 0.95) - 1],
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
    from ccmonitor.store.attribute_sets import record_sessions
    from ccmonitor.store.sqlite.rollups import refresh_rollups
    from ccmonitor.store.sqlite.writer import INSERT_EVENT, open_database
    batches = decoded(bodies)
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


def decoded(bodies: list[bytes]) -> list:
    """The requests as the receivers convert them (records.Batch), outside the timed part."""
    from ccmonitor.otlp.logs import to_batch
    return [to_batch(ExportLogsServiceRequest.FromString(body), True)[0] for body in bodies]


def raw_postgres_rates(bodies: list[bytes], url: str) -> dict[str, float]:
    """PostgreSQL alone storing the same converted rows, 2,000 rows (20 requests) per transaction, on a
    fresh database: `plain`, COPY into a table of the events columns with no index, no partition, no
    rollup (the floor of what a durable insert costs here); `schema`, into ccmonitor's own partitioned,
    indexed tables with every rollup, by the writer's own statements (COPY into the staging table, one
    INSERT .. ON CONFLICT .. RETURNING feeding the rollups), without a server, queue or savepoints. The
    staging table is emptied with TRUNCATE: a DELETE leaves dead rows nothing vacuums in a temporary table."""
    import psycopg

    from ccmonitor.store.postgres.partitions import Partitions, wanted
    from ccmonitor.store.postgres.schema import migrate
    from ccmonitor.store.postgres.writer import MOVE, SESSION_SETS, SETS, STAGED

    batches = decoded(bodies)
    columns = ", ".join(STAGED["events"])
    databases.create(url, fresh=True)
    rates = {}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        migrate(conn)
        Partitions().ensure(conn, wanted((e.timestamp for b in batches for e in b.events), ()))
        conn.execute(f"CREATE TABLE plain_events AS SELECT {columns} FROM events WITH NO DATA")
        conn.execute(f"CREATE TEMP TABLE stage_events AS SELECT {columns} FROM events WITH NO DATA")
        for name in ("plain", "schema"):
            start = time.perf_counter()
            for i in range(0, len(batches), 20):
                group = batches[i:i + 20]
                with conn.transaction(), conn.cursor() as cur:
                    with cur.copy(f"COPY {'plain' if name == 'plain' else 'stage'}_events FROM STDIN") as copy:
                        for batch in group:
                            for row in batch.events:
                                copy.write_row(row)
                    if name == "schema":
                        sets = {k: v for b in group for k, v in b.attribute_sets.items()}
                        sessions = {k: v for b in reversed(group) for k, v in b.session_sets.items()}
                        if sets:
                            cur.execute(SETS, (list(sets), list(sets.values())))
                        if sessions:
                            cur.execute(SESSION_SETS, (list(sessions), list(sessions.values())))
                        cur.execute(MOVE["events"])
                        cur.execute("TRUNCATE stage_events")
            elapsed = time.perf_counter() - start
            table = "plain_events" if name == "plain" else "events"
            rates[name] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] / elapsed  # type: ignore[index]
    databases.drop(url)
    return rates


def count(db: Path | str) -> int:
    if isinstance(db, str):
        return postgres_counts(db)[0]
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    finally:
        conn.close()


def postgres_counts(url: str) -> tuple[int, int]:
    """Rows in `events`, and the rows the hourly rollup counted (equal when the rollup is exact)."""
    import psycopg
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT (SELECT count(*) FROM events),"  # type: ignore[return-value]
                            " (SELECT COALESCE(sum(records), 0) FROM rollup_events)").fetchone()


def writer_backends(url: str) -> list[int]:
    """The PostgreSQL backends of the receivers' writers (the server runs on this machine)."""
    import psycopg
    with psycopg.connect(url) as conn:
        return [pid for (pid,) in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                                                " AND application_name = 'ccmonitor-writer'")]


SENDERS = {"http/protobuf": (http_sender, "http"), "grpc": (grpc_sender, "grpc")}


def sqlite_runs(args: argparse.Namespace, bodies: list[bytes]) -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
          f" SQLite {sqlite3.sqlite_version}; synchronous={args.synchronous}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        raw = raw_sqlite_rate(bodies, work, args.synchronous)
        print(f"raw SQLite batched insert of the same rows: {raw:,.0f} records/s")
        for name, (sender, transport) in SENDERS.items():
            db = work / f"{name.replace('/', '-')}.db"
            server = ServerProcess(db, synchronous=args.synchronous)
            try:
                cpu = server.cpu_s()
                result = run_clients(sender(server.ports[transport]), bodies, args.clients)
                cpu = server.cpu_s() - cpu
                stored = count(db)
                rate = stored / result["elapsed"]
                print(f"{name:14s} {rate:9,.0f} records/s  ({rate / raw:.2f} of raw)  stored {stored:,}/"
                      f"{args.records:,}  503s {result['503']}  other errors {result['other']}  p50"
                      f" {result['p50_ms']:.1f} ms  p95 {result['p95_ms']:.1f} ms  p99 {result['p99_ms']:.1f} ms"
                      f"  peak RSS {server.peak_rss_mb():.0f} MB  server CPU {cpu:.1f} s"
                      f" ({1e6 * cpu / stored:.0f} us/record)")
            finally:
                server.stop()
        if args.overload:
            overload(args, work / "overload.db", synchronous=args.synchronous)


def postgres_runs(args: argparse.Namespace, bodies: list[bytes]) -> None:
    url = args.db
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
          f" PostgreSQL {databases.version(url)} ({databases.settings(url)}); load average before:"
          f" {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    raw = raw_postgres_rates(bodies, url)
    print(f"raw PostgreSQL, the same rows: COPY into a plain table {raw['plain']:,.0f} records/s;"
          f" into ccmonitor's tables with rollups (writer's SQL, no server) {raw['schema']:,.0f} records/s")
    try:
        for receivers in (1, 2):
            for name, (sender, transport) in SENDERS.items():
                databases.create(url, fresh=True)
                servers = []
                try:
                    for _ in range(receivers):
                        servers.append(ServerProcess(url))
                    backends = writer_backends(url)
                    cpu_before = sum(s.cpu_s() for s in servers), sum(cpu_s(pid) for pid in backends)
                    result = run_clients([sender(s.ports[transport]) for s in servers], bodies, args.clients)
                    cpu = (sum(s.cpu_s() for s in servers) - cpu_before[0],
                           sum(cpu_s(pid) for pid in backends) - cpu_before[1])
                    stored, rolled_up = postgres_counts(url)
                    acknowledged = 100 * result["ok"]
                    rate = stored / result["elapsed"]
                    print(f"{name:14s} x{receivers} {rate:9,.0f} records/s  ({rate / raw['plain']:.2f} of plain,"
                          f" {rate / raw['schema']:.2f} of schema)  stored {stored:,} / acknowledged {acknowledged:,}"
                          f" {'==' if stored == acknowledged else '!= MISMATCH'}  rollup counts {rolled_up:,}"
                          f"  503s {result['503']}  other errors {result['other']}  p50 {result['p50_ms']:.1f} ms"
                          f"  p95 {result['p95_ms']:.1f} ms  p99 {result['p99_ms']:.1f} ms  peak RSS"
                          f" {' + '.join(f'{s.peak_rss_mb():.0f}' for s in servers)} MB  CPU: receivers {cpu[0]:.1f} s,"
                          f" their PostgreSQL writer backends {cpu[1]:.1f} s (in {result['elapsed']:.0f} s)",
                          flush=True)
                finally:
                    for s in servers:
                        s.stop()
        if args.overload:
            databases.create(url, fresh=True)
            overload(args, url)
    finally:
        databases.drop(url)


def overload(args: argparse.Namespace, db: Path | str, **options: str) -> None:
    server = ServerProcess(db, **options)
    try:
        big = build_requests(1000 * 25 * args.overload, per_request=1000, seed=2)  # all unique
        deadline = time.monotonic() + args.overload
        result = run_clients(http_sender(server.ports["http"]), big, 64, deadline=deadline)
        print(f"overload {args.overload}s, 64 clients x 1000-record requests: ok {result['ok']},"
              f" 503 {result['503']}, other {result['other']}, stored {count(db):,} ="
              f" {1000 * result['ok']:,} acknowledged; peak RSS {server.peak_rss_mb():.0f} MB")
    finally:
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--overload", type=int, default=0, help="seconds of an overload run (0 = skip)")
    ap.add_argument("--synchronous", default="FULL", help="SQLite only")
    ap.add_argument("--db", help="a postgresql:// URL naming a database to create afresh for each run"
                                 " (default: SQLite files in a temporary directory)")
    args = ap.parse_args()
    bodies = build_requests(args.records)
    if args.db:
        if not databases.is_postgres(args.db):
            raise SystemExit("--db takes a postgresql:// URL (SQLite runs use temporary files)")
        postgres_runs(args, bodies)
    else:
        sqlite_runs(args, bodies)


if __name__ == "__main__":
    main()
