"""Connections benchmark (run by hand): /health latency and the server's RSS while the app port holds
idle sockets that never send a byte (issue #9: 256 of them used to make every answer a 503).

    .venv/bin/python benchmarks/connections.py [--idle 600] [--calls 20]

The server runs as its own process (`ccmonitor serve`), the sockets and calls in this one. Each /health
call opens its own connection, as a container healthcheck does. Three cases: no flood; --idle sockets
under the default --max-connections (all held); the same flood with --max-connections 100 (the
oldest idle ones are shed as new ones arrive).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import socket
import statistics
import tempfile
import time
from pathlib import Path

from ingest import ServerProcess


def health(port: int) -> int:
    """One GET /health on a new connection over a plain socket (httpx.get spends ~30 ms on its TLS setup)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nhost: bench\r\nconnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1])


def health_latency_ms(port: int, calls: int) -> tuple[list[float], set[int]]:
    times, codes = [], set()
    for _ in range(calls):
        t = time.perf_counter()
        codes.add(health(port))
        times.append((time.perf_counter() - t) * 1000)
    return times, codes


def flood(port: int, n: int) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(n)]


def open_count(socks: list[socket.socket]) -> int:
    held = 0
    for sock in socks:
        sock.setblocking(False)
        try:
            sock.recv(1)
        except BlockingIOError:
            held += 1
        except OSError:
            pass
    return held


def case(name: str, idle: int, calls: int, workdir: Path, **options: str) -> None:
    server = ServerProcess(workdir / f"{name}.db", **options)
    try:
        port = server.ports["app"]
        health_latency_ms(port, 3)  # warm up
        base_rss = server.rss_mb()
        socks = flood(port, idle)
        try:
            times, codes = health_latency_ms(port, calls)  # the first waits while the flood is accepted
            print(f"{name}: {idle} idle sockets, /health over {calls} calls: median {statistics.median(times):.1f}"
                  f" ms, max {max(times):.1f} ms (first {times[0]:.1f} ms), status {sorted(codes)};"
                  f" RSS {base_rss:.0f} MB before,"
                  f" {server.rss_mb():.0f} MB with the flood; {open_count(socks)} sockets still held")
        finally:
            for sock in socks:
                sock.close()
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle", type=int, default=600)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * args.idle + 256)), hard))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        case("no flood", 0, args.calls, workdir)
        case("default limit", args.idle, args.calls, workdir)
        case("max-connections 100", args.idle, args.calls, workdir, max_connections="100")


if __name__ == "__main__":
    main()
