"""TLS on all three ports (issue #10): a CA made for the test issues the server's certificate for
127.0.0.1 and localhost; the real OpenTelemetry SDK exporters, httpx, grpc, `ccmonitor doctor` and the
real Claude Code CLI trust it. Plaintext clients, clients of another CA and stalled handshakes fail
without disturbing the server."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from click.testing import CliRunner
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2_grpc import LogsServiceStub
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

import stored
from ccmonitor.cli import main
from ccmonitor.configure import configure_command
from ccmonitor.doctor import doctor_command
from ccmonitor.probe import test_request as doctor_request
from conftest import RunningServer, make_config
from test_configure import run, user_settings
from test_connections import LOGS, WAIT, logs_head, read_until_eof, still_open
from test_e2e_claude import STORED_EVENTS, claude_session, event_counts, session_stored, wait_until
from throwaway_ca import Issued, ThrowawayCA

RESOURCE = Resource.create({"service.name": "claude-code", "team": "platform"})
Start = Callable[..., RunningServer]


AMBIENT_TRUST = ("NODE_EXTRA_CA_CERTS", "OTEL_EXPORTER_OTLP_CERTIFICATE", "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE",
                 "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@pytest.fixture(autouse=True)
def no_ambient_trust(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine's own CA settings must not decide these tests (requests lets REQUESTS_CA_BUNDLE
    override the HTTP exporter's certificate_file; the doctor reads NODE_EXTRA_CA_CERTS)."""
    for key in AMBIENT_TRUST:
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def ca(tmp_path: Path) -> ThrowawayCA:
    return ThrowawayCA(tmp_path / "ca")


@pytest.fixture
def issued(ca: ThrowawayCA) -> Issued:
    return ca.issue()


@pytest.fixture
def other_ca(tmp_path: Path) -> ThrowawayCA:
    return ThrowawayCA(tmp_path / "other-ca", name="someone else's CA")


def tls_options(issued: Issued) -> dict[str, object]:
    return {"tls_cert": str(issued.cert), "tls_key": str(issued.key)}


@pytest.fixture
def tls_factory(tmp_path: Path, issued: Issued) -> Iterator[Start]:
    """TLS servers on SQLite files (transport tests need one backend), with other settings changed."""
    started: list[RunningServer] = []

    def start(**changes: object) -> RunningServer:
        db = tmp_path / f"data{len(started)}" / "claude_monitoring.db"
        started.append(RunningServer(make_config(db, **tls_options(issued), **changes)))
        return started[-1]

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def tls_server(tls_factory: Start) -> RunningServer:
    return tls_factory()


@pytest.fixture
def opened() -> Iterator[list[socket.socket]]:
    """Client sockets, closed before the server that follows in the test's arguments stops."""
    sockets: list[socket.socket] = []
    yield sockets
    for sock in sockets:
        sock.close()


def trusting(ca: ThrowawayCA) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca.cert))


def grpc_export(port: int, credentials: grpc.ChannelCredentials | None, marker: str) -> None:
    target = f"localhost:{port}"
    channel = grpc.secure_channel(target, credentials) if credentials else grpc.insecure_channel(target)
    with channel:
        LogsServiceStub(channel).Export(doctor_request(marker), timeout=WAIT)


def events_of(server: RunningServer, marker: str) -> int:
    return int(stored.scalar(server.db_path, "SELECT COUNT(*) FROM events WHERE session_id = ?", (marker,)))


# --- the real exporters -------------------------------------------------------------------------


def sdk_exporters(kind: str, server: RunningServer, ca: ThrowawayCA) -> tuple[object, object, object]:
    if kind == "grpc":
        kw = {"endpoint": f"127.0.0.1:{server.grpc_port}", "insecure": False,
              "credentials": grpc.ssl_channel_credentials(ca.cert.read_bytes())}
        return GrpcLogExporter(**kw), GrpcMetricExporter(**kw), GrpcSpanExporter(**kw)
    base, ca_file = f"https://127.0.0.1:{server.http_port}", str(ca.cert)
    return (HttpLogExporter(endpoint=f"{base}/v1/logs", certificate_file=ca_file),
            HttpMetricExporter(endpoint=f"{base}/v1/metrics", certificate_file=ca_file),
            HttpSpanExporter(endpoint=f"{base}/v1/traces", certificate_file=ca_file))


@pytest.mark.parametrize("kind", ["grpc", "http"])
def test_sdk_exporters_over_tls_store_every_signal(server_factory, ca: ThrowawayCA, issued: Issued,
                                                     kind: str) -> None:
    server = server_factory(**tls_options(issued))
    log_exporter, metric_exporter, span_exporter = sdk_exporters(kind, server, ca)
    reader = PeriodicExportingMetricReader(metric_exporter, export_interval_millis=60_000)
    meters = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    counter = meters.get_meter("com.anthropic.claude_code").create_counter("claude_code.token.usage")
    counter.add(250, {"type": "input", "session.id": "tls-session", "model": "m"})
    logs = LoggerProvider(resource=RESOURCE)
    logs.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    from opentelemetry._logs import LogRecord
    logs.get_logger("com.anthropic.claude_code.events").emit(LogRecord(
        body="claude_code.api_request",
        attributes={"event.name": "api_request", "input_tokens": 7, "session.id": "tls-session"}))
    tracer_provider = TracerProvider(resource=RESOURCE)
    tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    with tracer_provider.get_tracer("t").start_as_current_span("claude_code.interaction"):
        pass
    meters.shutdown()
    logs.shutdown()
    tracer_provider.shutdown()

    db = server.db_path
    assert stored.scalar(db, "SELECT SUM(metric_value) FROM metrics WHERE session_id = 'tls-session'") == 250
    assert stored.rows(db, "SELECT event_name, input_tokens FROM events") == [("claude_code.api_request", 7)]
    assert stored.rows(db, "SELECT name FROM spans") == [("claude_code.interaction",)]


# --- HTTPS on the HTTP ports ----------------------------------------------------------------------


def test_dashboard_api_and_health_over_https(tls_server: RunningServer, ca: ThrowawayCA) -> None:
    with httpx.Client(verify=trusting(ca), timeout=WAIT) as client:
        for host in ("127.0.0.1", "localhost"):
            assert client.get(f"https://{host}:{tls_server.app_port}/health").json()["status"] == "ok"
        assert client.get(f"https://127.0.0.1:{tls_server.http_port}/health").status_code == 200
        assert client.get(f"https://127.0.0.1:{tls_server.app_port}/api/overview").status_code == 200
        page = client.get(f"https://127.0.0.1:{tls_server.app_port}/").text
    # the empty state tells Claude Code to use https
    assert f"OTEL_EXPORTER_OTLP_ENDPOINT=https://localhost:{tls_server.config.grpc_port}" in page


@pytest.mark.parametrize("port_name", ["app_port", "http_port"])
def test_plain_http_to_a_tls_port_is_closed_and_the_port_keeps_serving(tls_server: RunningServer,
                                                                       ca: ThrowawayCA, port_name: str) -> None:
    port = getattr(tls_server, port_name)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=WAIT)
    assert httpx.get(f"https://127.0.0.1:{port}/health", verify=trusting(ca), timeout=WAIT).status_code == 200


def test_a_client_of_another_ca_is_refused(tls_server: RunningServer, ca: ThrowawayCA,
                                           other_ca: ThrowawayCA) -> None:
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(tls_server.url("/health").replace("http:", "https:"), verify=trusting(other_ca), timeout=WAIT)
    with pytest.raises(grpc.RpcError) as info:
        grpc_export(tls_server.grpc_port, grpc.ssl_channel_credentials(other_ca.cert.read_bytes()), "other-ca")
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    grpc_export(tls_server.grpc_port, grpc.ssl_channel_credentials(ca.cert.read_bytes()), "right-ca")
    assert events_of(tls_server, "other-ca") == 0 and events_of(tls_server, "right-ca") == 1


def test_plaintext_grpc_to_the_tls_port_fails_and_the_port_keeps_serving(tls_server: RunningServer,
                                                                         ca: ThrowawayCA) -> None:
    with pytest.raises(grpc.RpcError) as info:
        grpc_export(tls_server.grpc_port, None, "plaintext")
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    grpc_export(tls_server.grpc_port, grpc.ssl_channel_credentials(ca.cert.read_bytes()), "over-tls")
    assert events_of(tls_server, "plaintext") == 0 and events_of(tls_server, "over-tls") == 1


# --- connection limits and timeouts still hold under TLS ----------------------------------------


def client_hello() -> bytes:
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def connect(port: int, opened: list[socket.socket]) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    opened.append(sock)
    return sock


@pytest.mark.parametrize("port_name", ["app_port", "http_port", "grpc_port"])
@pytest.mark.parametrize("sent", ["nothing", "half-a-client-hello", "a-client-hello-then-silence"])
def test_a_stalled_tls_handshake_is_closed_by_the_header_timeout(tls_factory: Start, opened: list[socket.socket],
                                                                 port_name: str, sent: str) -> None:
    server = tls_factory(header_timeout_s=0.5)
    hello = client_hello()
    sock = connect(getattr(server, port_name), opened)
    started = time.monotonic()
    sock.sendall({"nothing": b"", "half-a-client-hello": hello[:len(hello) // 2],
                  "a-client-hello-then-silence": hello}[sent])
    read_until_eof(sock)  # the server's half of the handshake, if any, then the close
    assert time.monotonic() - started < 5  # the header timeout, not asyncio's 60 s handshake timeout


def test_headers_are_due_within_the_header_timeout_of_connecting_over_tls(tls_factory: Start, ca: ThrowawayCA,
                                                                          opened: list[socket.socket]) -> None:
    server = tls_factory(header_timeout_s=1.0)
    sock = trusting(ca).wrap_socket(connect(server.app_port, opened), server_hostname="localhost")
    opened.append(sock)
    sock.sendall(b"GET /health HTTP/1.1\r\nhost: x\r\n")  # never the blank line
    assert read_until_eof(sock) == b""


def test_a_stalled_body_gets_408_over_tls(tls_factory: Start, ca: ThrowawayCA, opened: list[socket.socket]) -> None:
    server = tls_factory(body_timeout_s=0.5)
    sock = trusting(ca).wrap_socket(connect(server.http_port, opened), server_hostname="localhost")
    opened.append(sock)
    sock.sendall(logs_head(len(LOGS.wire)) + LOGS.wire[:10])
    assert read_until_eof(sock).startswith(b"HTTP/1.1 408 Request Timeout\r\n")


def test_handshaking_connections_count_against_the_limit(tls_factory: Start, ca: ThrowawayCA,
                                                         opened: list[socket.socket]) -> None:
    server = tls_factory(max_connections=3, header_timeout_s=60.0)
    silent = [connect(server.app_port, opened) for _ in range(4)]
    assert read_until_eof(silent[0]) == b""  # the oldest idle (still handshaking) one made room
    health = httpx.get(f"https://127.0.0.1:{server.app_port}/health", verify=trusting(ca), timeout=WAIT)
    assert health.status_code == 200
    assert read_until_eof(silent[1]) == b""
    assert still_open(silent[2]) and still_open(silent[3])


# --- startup ----------------------------------------------------------------------------------------


def unusable(case: str, issued: Issued, ca: ThrowawayCA, other_ca: ThrowawayCA, tmp_path: Path) -> tuple[Path, Path]:
    if case == "key-of-another-certificate":
        return issued.cert, other_ca.issue("stranger").key
    if case == "cert-and-key-swapped":
        return issued.key, issued.cert
    if case == "not-pem":
        der = tmp_path / "server.der"
        der.write_bytes(b"0\x82\x01\x0a" + os.urandom(64))
        return der, issued.key
    encrypted = ca.issue("encrypted", password=b"secret")
    return encrypted.cert, encrypted.key


@pytest.mark.parametrize(("case", "message"), [
    ("key-of-another-certificate", "the key does not belong to the certificate"),
    ("cert-and-key-swapped", "not a PEM certificate"),
    ("not-pem", "not a PEM certificate"),
    ("encrypted-key", "the key is encrypted"),
])
def test_an_unusable_certificate_or_key_fails_at_startup_in_one_line(tmp_path: Path, issued: Issued,
                                                                     ca: ThrowawayCA, other_ca: ThrowawayCA,
                                                                     case: str, message: str) -> None:
    cert, key = unusable(case, issued, ca, other_ca, tmp_path)
    args = ["serve", "--db", str(tmp_path / "db.sqlite"), "--grpc-port", "0", "--http-port", "0",
            "--app-port", "0", "--tls-cert", str(cert), "--tls-key", str(key)]
    result = CliRunner().invoke(main, args, env={"CCMONITOR_TLS_CERT": None, "CCMONITOR_TLS_KEY": None})
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and result.output.startswith(f"error: tls_cert {cert} / tls_key {key}: ")
    assert message in result.output


def test_serve_prints_https_endpoints_and_they_answer(tmp_path: Path, issued: Issued, ca: ThrowawayCA) -> None:
    command = [sys.executable, "-m", "ccmonitor", "serve", "--db", str(tmp_path / "db.sqlite"),
               "--grpc-port", "0", "--http-port", "0", "--app-port", "0",
               "--tls-cert", str(issued.cert), "--tls-key", str(issued.key)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCMONITOR_")}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as proc:
        assert proc.stdout is not None
        lines: list[str] = []
        while not lines or not lines[-1].startswith("Ctrl+C"):
            line = proc.stdout.readline()
            assert line, f"serve exited early: {lines}"
            lines.append(line)
        dashboard = next(line.split()[1] for line in lines if line.strip().startswith("dashboard"))
        answer = httpx.get(dashboard, verify=trusting(ca), timeout=WAIT)
        proc.send_signal(signal.SIGINT)
        proc.wait(WAIT)
    assert answer.status_code == 200
    printed = "".join(lines)
    endpoints = [word.split("=", 1)[1] for line in lines for word in line.split()
                 if word.startswith("OTEL_EXPORTER_OTLP_ENDPOINT=")]
    assert dashboard.startswith("https://") and len(endpoints) == 2, printed
    assert all(e.startswith("https://localhost:") for e in endpoints), printed
    assert "NODE_EXTRA_CA_CERTS" in printed
    assert proc.returncode == 0


# --- Claude Code's side: configure, doctor, the real client ----------------------------------------


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


def test_configure_writes_the_ca_as_node_extra_ca_certs(home: Path, ca: ThrowawayCA, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a relative --ca-file is written as an absolute path
    args = ["--endpoint", "https://team-host:4317", "--ca-file", os.path.relpath(ca.cert, tmp_path)]
    assert run(configure_command, args, home).exit_code == 0
    assert user_settings(home)["env"]["NODE_EXTRA_CA_CERTS"] == str(ca.cert.resolve())
    refused = run(configure_command, ["--endpoint", "http://team-host:4317", "--ca-file", str(ca.cert)], home)
    assert refused.exit_code == 2 and "https://" in refused.output


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_doctor_over_tls_with_the_ca_from_configure(tls_server: RunningServer, home: Path, ca: ThrowawayCA,
                                                    protocol: str) -> None:
    port = tls_server.grpc_port if protocol == "grpc" else tls_server.http_port
    args = ["--protocol", protocol, "--endpoint", f"https://localhost:{port}", "--ca-file", str(ca.cert)]
    assert run(configure_command, args, home).exit_code == 0
    result = run(doctor_command, ["--app-url", f"https://localhost:{tls_server.app_port}"], home)
    assert result.exit_code == 0, result.output
    marker = result.output.rsplit("session ", 1)[1].strip(" )\n")
    assert events_of(tls_server, marker) == 1


def test_doctor_without_the_ca_says_what_to_set(tls_server: RunningServer, home: Path, ca: ThrowawayCA) -> None:
    args = ["--protocol", "grpc", "--endpoint", f"https://localhost:{tls_server.grpc_port}"]
    assert run(configure_command, args, home).exit_code == 0
    app_url = f"https://localhost:{tls_server.app_port}"
    result = run(doctor_command, ["--app-url", app_url], home)
    assert result.exit_code == 1
    assert "CERTIFICATE_VERIFY_FAILED" in result.output and "--ca-file" in result.output
    # the doctor's own reads trust --ca-file; the export, like Claude Code, still does not
    result = run(doctor_command, ["--app-url", app_url, "--ca-file", str(ca.cert), "--timeout", "1"], home)
    assert result.exit_code == 1
    assert "ok   server" in result.output and "NODE_EXTRA_CA_CERTS" in result.output


@pytest.mark.e2e
@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_claude_code_exports_over_tls_with_the_ca_from_configure(tls_server: RunningServer, home: Path,
                                                                 ca: ThrowawayCA, tmp_path: Path,
                                                                 protocol: str) -> None:
    """The real client (2.1.332) trusts a private CA through NODE_EXTRA_CA_CERTS in settings.json."""
    port = tls_server.grpc_port if protocol == "grpc" else tls_server.http_port
    endpoint = f"https://localhost:{port}"
    args = ["--protocol", protocol, "--endpoint", endpoint, "--ca-file", str(ca.cert)]
    assert run(configure_command, args, home).exit_code == 0
    workdir = tmp_path / "acme-app"
    workdir.mkdir()
    output = claude_session(workdir=workdir, home=home, otlp_protocol=protocol, otlp_endpoint=endpoint)
    wait_until(lambda: session_stored(tls_server.db_path, output["session_id"]))
    assert event_counts(tls_server.db_path, output["session_id"]) == STORED_EVENTS
