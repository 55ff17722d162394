"""Amplification benchmark (run by hand): what one small hostile body costs the server, and whether
/health stays responsive while the server deals with it.

    .venv/bin/python benchmarks/amplification.py [--baseline-src DIR]

Bodies: ~1 KB of gzip that inflates to 1 MB of 524,000 empty log records, ~16 KB that inflates to
16 MB of 8 million, the same 16 MB as one record's empty attributes, and a realistic 100-record
request for comparison. Each runs against a fresh
`ccmonitor serve` process; figures are the process's RSS growth (VmHWM - VmRSS before), its RSS
afterwards, the answer and its time, and GET /health latency polled every 20 ms meanwhile.
`--baseline-src` runs the same bodies against another checkout's src/ (e.g. a `git worktree` of the
commit before the hardening), measured in the same run.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from google.protobuf.internal.encoder import _VarintBytes

sys.path.insert(0, str(Path(__file__).parent))
from ingest import ServerProcess, build_requests  # noqa: E402


def empty_records(n: int) -> bytes:
    records = b"\x12\x00" * n
    resource = b"\x12" + _VarintBytes(len(records)) + records
    return gzip.compress(b"\x0a" + _VarintBytes(len(resource)) + resource, 9)


def empty_attributes(n: int) -> bytes:
    """One log record carrying n empty attributes: the amplification one level further down."""
    record = b"\x32\x00" * n
    records = b"\x12" + _VarintBytes(len(record)) + record
    resource = b"\x12" + _VarintBytes(len(records)) + records
    return gzip.compress(b"\x0a" + _VarintBytes(len(resource)) + resource, 9)


def measure(body: bytes, encoding: str | None) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "bench.db")
        try:
            app = server.ports["app"]
            base = f"http://127.0.0.1:{app}"
            for _ in range(5):
                httpx.get(base + "/health", timeout=10)
            before = server.rss_mb()
            latencies: list[float] = []
            done = threading.Event()

            def poll() -> None:
                with httpx.Client(timeout=30) as client:
                    while not done.is_set():
                        t = time.perf_counter()
                        client.get(base + "/health")
                        latencies.append(time.perf_counter() - t)
                        time.sleep(0.02)

            poller = threading.Thread(target=poll)
            poller.start()
            time.sleep(0.2)
            headers = {"content-type": "application/x-protobuf"}
            if encoding:
                headers["content-encoding"] = encoding
            t = time.perf_counter()
            r = httpx.post(f"http://127.0.0.1:{server.ports['http']}/v1/logs", content=body, headers=headers,
                           timeout=600)
            elapsed = time.perf_counter() - t
            time.sleep(0.3)
            done.set()
            poller.join()
            peak = server.peak_rss_mb()
            time.sleep(2)
            after = server.rss_mb()
        finally:
            server.stop()
    return {"status": r.status_code, "seconds": elapsed, "rss_growth_mb": peak - before,
            "rss_after_mb": after - before, "health_p50_ms": statistics.median(latencies) * 1000,
            "health_max_ms": max(latencies) * 1000, "health_calls": len(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline-src", type=Path, help="another checkout's src/ to compare against")
    args = parser.parse_args()
    cases = {
        "1 KB gzip -> 524,000 empty records": (empty_records(524_000), "gzip"),
        "16 KB gzip -> 8,000,000 empty records": (empty_records(8_000_000), "gzip"),
        "16 KB gzip -> 1 record with 8,000,000 empty attributes": (empty_attributes(8_000_000), "gzip"),
        "realistic: 100 Claude Code events": (build_requests(100)[0], None),
    }
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    trees = [("this checkout", None)]
    if args.baseline_src:
        trees.append((f"baseline {args.baseline_src}", str(args.baseline_src.resolve())))
    for label, src in trees:
        if src:
            os.environ["PYTHONPATH"] = src
        else:
            os.environ.pop("PYTHONPATH", None)
        for name, (body, encoding) in cases.items():
            m = measure(body, encoding)
            print(f"{label} | {name} ({len(body):,} B on the wire): HTTP {m['status']} in {m['seconds']:.2f} s, "
                  f"RSS +{m['rss_growth_mb']:.0f} MB peak, +{m['rss_after_mb']:.0f} MB after; /health p50 "
                  f"{m['health_p50_ms']:.1f} ms, max {m['health_max_ms']:.1f} ms over {m['health_calls']} calls")


if __name__ == "__main__":
    main()
