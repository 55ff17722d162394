"""Bounded connections over real sockets: idle floods shed their oldest, slow clients time out, and
gRPC gets the same limits. Timeouts here are short; waits on them are generous."""

from __future__ import annotations

import resource
import socket
import struct
import threading
import time
from collections.abc import Iterator

import grpc
import httpx
import pytest

import stored
from capture import GRPC_METHOD, requests

LOGS = next(c for c in requests("http-protobuf") if c.signal == "logs")
GRPC_LOGS = next(c for c in requests("grpc") if c.signal == "logs")
WAIT = 10.0  # seconds to wait for something that must happen (a close, a state change)


@pytest.fixture
def fd_room() -> Iterator[None]:
    """Room for 600 client sockets plus the server's side of them in this one process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4096 if hard == resource.RLIM_INFINITY else min(4096, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    yield opened
    for sock in opened:
        sock.close()


def connect(port: int, opened: list[socket.socket]) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    opened.append(sock)
    return sock


def read_until_eof(sock: socket.socket, timeout: float = WAIT) -> bytes:
    """Everything the server sends until it closes; socket.timeout if it never does."""
    sock.settimeout(timeout)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def still_open(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1) != b""
    except BlockingIOError:
        return True
    except ConnectionError:
        return False
    finally:
        sock.setblocking(True)


def logs_head(length: int, extra: str = "") -> bytes:
    return (f"POST /v1/logs HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-protobuf\r\n"
            f"content-length: {length}\r\n{extra}\r\n").encode()


def start_request(port: int, opened: list[socket.socket]) -> socket.socket:
    """A POST whose headers the app holds (it asked for the body: 100 Continue) with its body half sent."""
    sock = connect(port, opened)
    sock.sendall(logs_head(len(LOGS.wire), "expect: 100-continue\r\n"))
    assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
    sock.sendall(LOGS.wire[:-10])
    return sock


@pytest.mark.parametrize("port_name", ["app_port", "http_port"])
def test_idle_flood_sheds_the_oldest_and_health_answers(server_factory, fd_room, sockets, port_name: str) -> None:
    server = server_factory(max_connections=100, header_timeout_s=60.0)
    port = getattr(server, port_name)
    flood = [connect(port, sockets) for _ in range(600)]
    for sock in flood[:500]:
        assert read_until_eof(sock) == b""  # shed without an answer, in the order they came
    assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=WAIT).status_code == 200
    post = httpx.post(f"http://127.0.0.1:{port}/v1/logs", content=LOGS.wire,
                      headers={"content-type": "application/x-protobuf"}, timeout=WAIT)
    assert post.status_code == 200
    assert read_until_eof(flood[500]) == b""  # /health's connection took the oldest one left
    assert all(still_open(sock) for sock in flood[502:])


def test_idle_flood_under_the_default_limit_is_just_held(server_factory, fd_room, sockets) -> None:
    server = server_factory()
    flood = [connect(server.app_port, sockets) for _ in range(600)]  # uvicorn's old limit was 256
    assert httpx.get(server.url("/health"), timeout=WAIT).status_code == 200
    assert all(still_open(sock) for sock in flood)


def test_a_request_in_progress_is_never_shed(server_factory, sockets) -> None:
    server = server_factory(max_connections=2, header_timeout_s=60.0)
    busy = start_request(server.http_port, sockets)
    idle = connect(server.http_port, sockets)
    newer = connect(server.http_port, sockets)
    assert read_until_eof(idle) == b""
    newest = connect(server.http_port, sockets)
    assert read_until_eof(newer) == b""
    busy.sendall(LOGS.wire[-10:])
    assert busy.recv(100).startswith(b"HTTP/1.1 200 OK")
    assert still_open(newest)


def test_503_with_retry_after_when_every_connection_is_busy(server_factory, sockets) -> None:
    server = server_factory(max_connections=1)
    busy = start_request(server.app_port, sockets)
    refused = read_until_eof(connect(server.app_port, sockets))
    assert refused.startswith(b"HTTP/1.1 503 Service Unavailable\r\n") and b"\r\nretry-after: 1\r\n" in refused
    busy.sendall(LOGS.wire[-10:])
    assert busy.recv(100).startswith(b"HTTP/1.1 200 OK")


@pytest.mark.parametrize("sent", [b"", b"GET /hea", b"GET /health HTTP/1.1\r\nhost: x\r\n"],
                         ids=["nothing", "half-a-request-line", "headers-without-the-blank-line"])
def test_slow_headers_are_closed_without_an_answer(server_factory, sockets, sent: bytes) -> None:
    server = server_factory(header_timeout_s=0.5)
    sock = connect(server.app_port, sockets)
    sock.sendall(sent)
    assert read_until_eof(sock) == b""


def test_a_stalled_body_gets_408(server_factory, sockets) -> None:
    server = server_factory(body_timeout_s=0.5)
    sock = connect(server.http_port, sockets)
    sock.sendall(logs_head(len(LOGS.wire)) + LOGS.wire[:10])
    assert read_until_eof(sock).startswith(b"HTTP/1.1 408 Request Timeout\r\n")


def test_a_slow_steady_body_is_not_a_stall(server_factory, sockets) -> None:
    server = server_factory(body_timeout_s=2.0)
    sock = connect(server.http_port, sockets)
    sock.sendall(logs_head(len(LOGS.wire)))
    step = len(LOGS.wire) // 10 + 1
    for i in range(0, len(LOGS.wire), step):  # ~2.5 s in all, more than the timeout, never 2 s quiet
        time.sleep(0.25)
        sock.sendall(LOGS.wire[i:i + step])
    assert sock.recv(100).startswith(b"HTTP/1.1 200 OK")


def test_an_idle_kept_alive_connection_is_closed(server_factory, sockets) -> None:
    server = server_factory(keepalive_timeout_s=1)  # header timeout stays 10 s: only keep-alive fits
    sock = connect(server.app_port, sockets)
    sock.sendall(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
    answer = read_until_eof(sock, timeout=4.0)  # uvicorn's default would be 5 s
    assert answer.startswith(b"HTTP/1.1 200 OK") and b"connection: close" not in answer.lower()


def test_a_body_still_arriving_after_an_early_answer_is_timed_out(server_factory, sockets) -> None:
    """uvicorn cancels its keep-alive timer on every byte and never re-arms it after an early answer."""
    server = server_factory(auth_token="t0ken", keepalive_timeout_s=1, header_timeout_s=0.5)
    sock = connect(server.http_port, sockets)
    sock.sendall(logs_head(len(LOGS.wire)))
    assert sock.recv(100).startswith(b"HTTP/1.1 401")
    sock.sendall(LOGS.wire)
    answer = read_until_eof(sock, timeout=4.0)
    assert b"HTTP/1.1" not in answer  # closed, with nothing more to say


def test_grpc_handshake_timeout(server_factory, sockets) -> None:
    server = server_factory(header_timeout_s=0.5)
    sock = connect(server.grpc_port, sockets)
    read_until_eof(sock)  # the server's SETTINGS, then the close


def test_grpc_advertises_its_stream_limit(server, sockets) -> None:
    sock = connect(server.grpc_port, sockets)
    sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
    head = sock.recv(9, socket.MSG_WAITALL)
    length, kind = int.from_bytes(head[:3], "big"), head[3]
    assert kind == 4  # SETTINGS
    payload = sock.recv(length, socket.MSG_WAITALL)
    settings = dict(struct.unpack(">HI", payload[i:i + 6]) for i in range(0, length, 6))
    assert settings[3] == 100  # SETTINGS_MAX_CONCURRENT_STREAMS


def test_grpc_idle_connection_gets_goaway(server_factory) -> None:
    server = server_factory(keepalive_timeout_s=1)
    went_idle = threading.Event()
    seen: list[grpc.ChannelConnectivity] = []

    def watch(state: grpc.ChannelConnectivity) -> None:
        seen.append(state)
        if state is grpc.ChannelConnectivity.IDLE and grpc.ChannelConnectivity.READY in seen:
            went_idle.set()

    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        channel.subscribe(watch)
        channel.unary_unary(GRPC_METHOD["logs"])(GRPC_LOGS.wire, timeout=WAIT)
        assert went_idle.wait(WAIT)  # a client's own idle timeout is 30 minutes
        channel.unsubscribe(watch)


def test_grpc_connection_limit_refuses_until_a_slot_frees(server_factory, sockets) -> None:
    server = server_factory(max_connections=2)
    held = [connect(server.grpc_port, sockets) for _ in range(2)]
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel, pytest.raises(grpc.RpcError) as info:
        channel.unary_unary(GRPC_METHOD["logs"])(GRPC_LOGS.wire, timeout=WAIT)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    for sock in held:
        sock.close()
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        channel.unary_unary(GRPC_METHOD["logs"])(GRPC_LOGS.wire, timeout=WAIT, wait_for_ready=True)


def test_grpc_concurrent_rpcs_beyond_the_limit_are_resource_exhausted(server_factory) -> None:
    server = server_factory(max_connections=2, busy_timeout_ms=30_000)
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        export = channel.unary_unary(GRPC_METHOD["logs"])
        with stored.writes_held(server.db_path):  # both RPCs wait for their commit
            waiting = [export.future(GRPC_LOGS.wire, timeout=WAIT) for _ in range(2)]
            deadline = time.monotonic() + WAIT
            while grpc_requests(server) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert grpc_requests(server) == 2
            with pytest.raises(grpc.RpcError) as info:
                export(GRPC_LOGS.wire, timeout=WAIT)
            assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        for call in waiting:
            call.result()


def grpc_requests(server) -> int:
    since_start = httpx.get(server.url("/stats"), timeout=WAIT).json()["since_start"]
    return since_start.get("logs", {}).get("grpc", {}).get("requests", 0)
