"""Bounded HTTP connections: timeouts for slow clients, and a per-port limit that sheds idle sockets.

uvicorn's limit_concurrency counts connections, so 256 idle sockets made a port answer 503 to
everything, /health included, and nothing timed out a slow client (issue #9). Here each port keeps
its connections in a Registry. A new connection at the limit closes the oldest idle one (idle: no
request head received and unanswered, i.e. never sent a byte, between keep-alive requests, or still
trickling its headers, which is what slowloris looks like and costs nobody any work). Only when every
connection carries a request does a new one get 503 + Retry-After, written at once and closed.

Timeouts, one timer per connection at a time (loop.call_later):
- headers: complete within header_timeout_s of connecting, or within keepalive_timeout_s +
  header_timeout_s of the previous response; else closed silently, as nginx and Go do.
- body: 408 and closed once no body byte arrived for body_timeout_s while we were ready to read
  (an inactivity timeout: time the app holds reading paused does not count against the client).
- keep-alive: uvicorn's own timer (Config.timeout_keep_alive), set from keepalive_timeout_s.

TLS (--tls-cert): asyncio's SSL layer calls a protocol's connection_made only once the handshake is
done, so a client that connects and never finishes its handshake would hold a socket outside the
registry and past every timer. TlsProtocol therefore wraps each connection itself (asyncio's own
SSLProtocol, as loop.create_server(ssl=...) does) and admits it at TCP accept: the handshake counts as
idle, the header deadline starts at connect, and eviction or a timeout closes the TCP socket. A
connection refused at the limit is closed before the handshake (a 503 would need one first).
"""

from __future__ import annotations

import asyncio
import logging
import math
import resource
import ssl
from asyncio import sslproto
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ccmonitor.config import Config

log = logging.getLogger(__name__)
BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"content-length: 21\r\nconnection: close\r\n\r\ntoo many connections\n")
REQUEST_TIMEOUT = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
                   b"content-length: 22\r\nconnection: close\r\n\r\nrequest body too slow\n")


@dataclass(frozen=True)
class Limits:
    header_timeout_s: float
    body_timeout_s: float
    keepalive_timeout_s: int
    max_connections: int
    drain_s: float  # how long a request under way may still take: receive its body, wait for its commit

    @classmethod
    def of(cls, c: Config) -> Limits:
        return cls(c.header_timeout_s, c.body_timeout_s, c.keepalive_timeout_s, c.max_connections,
                   c.body_timeout_s + c.commit_timeout_s)


class Registry:
    """One port's open connections; the idle ones in the order they became idle."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.open: set[BoundedProtocol] = set()
        self.idle: OrderedDict[BoundedProtocol, None] = OrderedDict()

    def admit(self, conn: BoundedProtocol) -> bool:
        """Make room by closing the oldest idle connection; False when every one carries a request."""
        if len(self.open) >= self.limits.max_connections:
            if not self.idle:
                return False
            oldest, _ = self.idle.popitem(last=False)
            self.drop(oldest)
            oldest.drop_socket()
        self.open.add(conn)
        self.idle[conn] = None
        return True

    def busy(self, conn: BoundedProtocol) -> None:
        self.idle.pop(conn, None)

    def rest(self, conn: BoundedProtocol) -> None:
        if conn in self.open:
            self.idle[conn] = None
            self.idle.move_to_end(conn)

    def drop(self, conn: BoundedProtocol) -> None:
        self.open.discard(conn)
        self.idle.pop(conn, None)


class BoundedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol plus the registry and the header and body timers."""

    registry: ClassVar[Registry]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = self.registry.limits
        self._timer: asyncio.TimerHandle | None = None
        self._heads = 0  # request heads received and not yet answered (more than one when pipelined)
        self._body_seen = 0.0  # loop time of the last body bytes
        self._socket: asyncio.BaseTransport | None = None  # the TCP connection (under TLS, not self.transport)

    def accept(self, socket: asyncio.BaseTransport) -> bool:
        """Admit a new TCP connection and start its header deadline; False when the port is full."""
        self._socket = socket
        if not self.registry.admit(self):
            return False
        self._arm(self.limits.header_timeout_s, self._headers_late)
        return True

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn
        super().connection_made(transport)
        if self._socket is None and not self.accept(transport):  # plain HTTP; TLS was admitted at accept
            transport.write(BUSY)
            transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.socket_lost()
        super().connection_lost(exc)

    def socket_lost(self) -> None:
        self.registry.drop(self)
        self._disarm()

    def drop_socket(self) -> None:
        if self._socket is not None:
            self._socket.close()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._heads += 1
        self.registry.busy(self)
        self._body_seen = self.loop.time()
        self._arm(self.limits.body_timeout_s, self._body_stalled)

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._body_seen = self.loop.time()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        if self._heads:  # else answered early (401, 413) and resting: its idle deadline stays
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._heads = max(0, self._heads - 1)
        if self._heads == 0 and not self.transport.is_closing():
            self.registry.rest(self)  # uvicorn's keep-alive timer closes it if no byte comes
            self._arm(self.limits.keepalive_timeout_s + self.limits.header_timeout_s, self._headers_late)

    def _arm(self, delay: float, callback: Callable[[], None]) -> None:
        self._disarm()
        self._timer = self.loop.call_later(delay, callback)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _headers_late(self) -> None:
        self._timer = None
        self.drop_socket()

    def _body_stalled(self) -> None:
        now = self.loop.time()
        if self.flow.read_paused:  # the app has not asked for more yet: not the client's stall
            self._body_seen = now
        quiet = now - self._body_seen
        if quiet < self.limits.body_timeout_s:
            self._timer = self.loop.call_later(self.limits.body_timeout_s - quiet, self._body_stalled)
            return
        self._timer = None
        if self.cycle is not None and not self.cycle.response_started:
            self.transport.write(REQUEST_TIMEOUT)
        self.transport.close()


class TlsProtocol(sslproto.SSLProtocol):
    """TLS around one BoundedProtocol, admitted and timed from TCP accept (see the module docstring)."""

    http: ClassVar[type[BoundedProtocol]]
    context: ClassVar[ssl.SSLContext]

    def __init__(self, **kwargs: Any) -> None:  # uvicorn's arguments for the HTTP protocol
        self.inner = self.http(**kwargs)
        timeout = math.ceil(self.inner.limits.header_timeout_s)  # a backstop: the header timer fires first
        super().__init__(self.inner.loop, self.inner, self.context, None,  # type: ignore[arg-type]  # no waiter
                         server_side=True, ssl_handshake_timeout=timeout, ssl_shutdown_timeout=timeout)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if not self.inner.accept(transport):
            transport.close()

    def connection_lost(self, exc: BaseException | None) -> None:
        super().connection_lost(exc)  # tells the inner protocol only if its handshake had completed
        self.inner.socket_lost()


def protocol(limits: Limits, tls: ssl.SSLContext | None = None) -> type[asyncio.Protocol]:
    """A protocol class with its own registry: one per port (uvicorn builds it from Config(http=...)).
    With `tls`, the class does the handshake itself: give uvicorn no ssl of its own."""

    class PortProtocol(BoundedProtocol):
        registry = Registry(limits)

    if tls is None:
        return PortProtocol
    port_context = tls

    class PortTlsProtocol(TlsProtocol):
        http = PortProtocol
        context = port_context

    return cast(type[asyncio.Protocol], PortTlsProtocol)  # a BufferedProtocol, which asyncio takes as well


def reserve_descriptors(limits: Limits) -> None:
    """Raise the soft open-file limit to what three full ports need: at EMFILE asyncio stops accepting
    on the port for a second, /health included, and no connection limit could prevent that."""
    want = 3 * limits.max_connections + 256  # plus SQLite files, listeners, logs
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= want:
        return
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        target = soft
    if target < want:
        log.warning("open-file limit %d is below the %d that max_connections=%d needs on three ports",
                    target, want, limits.max_connections)
