"""Composition root: open the store, start OTLP/gRPC, OTLP/HTTP and the app port in one event loop,
and shut down gracefully (stop accepting, let in-flight requests finish, commit the queue).

Sockets are bound here, before any server starts, so a busy port is one clear line naming the port
and the option that changes it (macOS AirPlay holds 5000), instead of a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import threading
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import grpc
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware

from ccmonitor import connections, redaction, tls
from ccmonitor.config import Config
from ccmonitor.credentials import Gate
from ccmonitor.errors import CcmonitorError, ConfigError, StoreUnavailable
from ccmonitor.ingest import Ingest
from ccmonitor.otlp import grpc as otlp_grpc
from ccmonitor.otlp import http as otlp_http
from ccmonitor.otlp.signals import Rules
from ccmonitor.retention import retention_loop
from ccmonitor.store import Store, open_store
from ccmonitor.web import login, status
from ccmonitor.web.app import routes as web_routes
from ccmonitor.web.auth import Guard

log = logging.getLogger(__name__)
TOKEN_USE_FLUSH_S = 30.0


class _Uvicorn(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # signals are ours: one handler stops all three servers


def bind(host: str, port: int, option: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # proto 0: asyncio leaves Nagle on (+40 ms)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} on {host} is already in use; choose another with {option}") from None
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror}); see {option}") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


@dataclass
class Ports:
    grpc: int
    http: int
    app: int


class Server:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.ports: Ports | None = None
        self.store: Store | None = None
        self._stop = asyncio.Event()
        self._servers: list[_Uvicorn] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._grpc: grpc.aio.Server | None = None
        self._ingest: Ingest | None = None
        self.gate: Gate | None = None

    async def start(self) -> Ports:
        c = self.config
        secure = tls.load(c.tls_cert, c.tls_key) if c.tls_cert and c.tls_key else None
        patterns = redaction.rules(c.redact)  # a bad --redact FILE is one line, before anything starts
        bound: list[socket.socket] = []
        try:
            for port, option in ((c.http_port, "--http-port / CCMONITOR_HTTP_PORT"),
                                 (c.app_port, "--app-port / CCMONITOR_APP_PORT"),
                                 (c.grpc_port, "--grpc-port / CCMONITOR_GRPC_PORT")):
                bound.append(bind(c.host, port, option))
        except ConfigError:
            for sock in bound:
                sock.close()
            raise
        http_sock, app_sock, grpc_probe = bound
        grpc_port = grpc_probe.getsockname()[1]
        grpc_probe.close()  # grpc binds it itself just below (SO_REUSEADDR, so no TIME_WAIT clash)
        try:
            self.store = store = await asyncio.to_thread(
                lambda: open_store(c.db, synchronous=c.synchronous, busy_timeout_ms=c.busy_timeout_ms,
                                   queue_max_records=c.queue_max_records, commit_timeout_s=c.commit_timeout_s))
        except StoreUnavailable:
            http_sock.close()
            app_sock.close()
            raise
        try:
            key = await asyncio.to_thread(store.secret, "session")
            email_key = await asyncio.to_thread(store.secret, "email-hash") if c.hash_emails else None
        except CcmonitorError:
            http_sock.close()
            app_sock.close()
            await asyncio.to_thread(store.close)
            raise
        self.gate = gate = Gate(c.auth_token, store, key)
        cookies = login.Cookies(key, secure=bool(c.tls_cert))
        self._ingest = ingest = Ingest(store, commit_timeout_s=c.commit_timeout_s,
                                       max_inflight_bytes=c.max_inflight_bytes)
        redactor = redaction.Redactor.of(patterns, email_key)
        rules = Rules(max_body_bytes=c.max_body_bytes, max_records=c.max_records_per_request,
                      store_prompts=c.store_prompts, redactor=redactor)
        otlp = otlp_http.routes(ingest, rules=rules, gate=gate)
        ops = status.routes(store, ingest.counters.snapshot, redactor)
        limits = connections.Limits.of(c)
        connections.reserve_descriptors(limits)
        self._grpc = otlp_grpc.create_server(ingest, rules=rules, gate=gate, limits=limits)
        address = f"[{c.host}]:{grpc_port}" if ":" in c.host else f"{c.host}:{grpc_port}"
        try:
            grpc_bound = (self._grpc.add_secure_port(address, secure.grpc_credentials) if secure
                          else self._grpc.add_insecure_port(address))
        except RuntimeError:
            grpc_bound = 0
        if not grpc_bound:
            http_sock.close()
            app_sock.close()
            await asyncio.to_thread(store.close)
            raise ConfigError(f"port {grpc_port} on {c.host} is already in use; "
                              "choose another with --grpc-port / CCMONITOR_GRPC_PORT")
        guard = [Middleware(Guard, gate=gate, cookies=cookies)]  # /stats on 4318 too: only /health is open
        apps = [(Starlette(routes=otlp + ops, middleware=guard), http_sock),
                (Starlette(routes=otlp + ops + login.routes(gate, cookies) + web_routes(c, store), middleware=guard),
                 app_sock)]
        for app, sock in apps:
            # No limit_concurrency: it counts idle sockets too; connections.py bounds them per port.
            server = _Uvicorn(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                             http=connections.protocol(limits, secure.context if secure else None),
                                             ws="none",
                                             timeout_keep_alive=limits.keepalive_timeout_s,
                                             timeout_graceful_shutdown=15))
            self._servers.append(server)
            self._tasks.append(asyncio.create_task(server.serve(sockets=[sock])))
        await self._grpc.start()
        self._tasks.append(asyncio.create_task(retention_loop(store, c, self._stop)))  # idle when retention is off
        self._tasks.append(asyncio.create_task(self._flush_token_use(gate)))
        while not all(s.started for s in self._servers):
            await asyncio.sleep(0.01)
        self.ports = Ports(grpc_bound, http_sock.getsockname()[1], app_sock.getsockname()[1])
        return self.ports

    async def _flush_token_use(self, gate: Gate) -> None:
        """Write when tokens were last used, every TOKEN_USE_FLUSH_S and once more at stop."""
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), TOKEN_USE_FLUSH_S)
            try:
                await asyncio.to_thread(gate.flush)
            except CcmonitorError as exc:  # the store is down: /health says so; try again next time
                log.warning("could not record token use: %s", type(exc).__name__)
            if self._stop.is_set():
                return

    def request_stop(self) -> None:
        self._stop.set()

    async def wait(self) -> None:
        await self._stop.wait()
        await self.shutdown()

    async def shutdown(self) -> None:
        """Stop accepting, let in-flight requests finish (they wait for their commit), then flush."""
        self._stop.set()
        for server in self._servers:
            server.should_exit = True
        if self._grpc is not None:
            await self._grpc.stop(grace=10)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._ingest is not None:
            await asyncio.to_thread(self._ingest.close)
        if self.store is not None:
            await asyncio.to_thread(self.store.close)


class ThreadedServer:
    """A real server on its own event loop thread: for tests, benchmarks and `doctor`."""

    def __init__(self, config: Config) -> None:
        self.server = Server(config)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ccmonitor-server", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            try:
                await self.server.start()
            except BaseException as exc:
                self._error = exc
                self._ready.set()
                return
            self._ready.set()
            await self.server.wait()

        try:
            self._loop.run_until_complete(main())
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        finally:
            self._loop.close()

    def start(self) -> Ports:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        assert self.server.ports is not None
        return self.server.ports

    def stop(self) -> None:
        if self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop already closed
                self._loop.call_soon_threadsafe(self.server.request_stop)
        self._thread.join(30)

    def __enter__(self) -> ThreadedServer:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
