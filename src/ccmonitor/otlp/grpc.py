"""grpc.aio Logs/Metrics/Trace services, registered from the signal table.

Handlers take the raw request bytes (no generated deserializer) so a malformed message becomes
INVALID_ARGUMENT with our message, not an opaque INTERNAL. grpc itself handles gzip/deflate
message compression and enforces the size limit (RESOURCE_EXHAUSTED). Metadata values are already
percent-decoded by the client (`Bearer static-token`).
"""

from __future__ import annotations

import grpc

from ccmonitor.connections import Limits
from ccmonitor.credentials import Gate, bearer_forms
from ccmonitor.errors import CcmonitorError
from ccmonitor.ingest import Ingest
from ccmonitor.otlp import decode
from ccmonitor.otlp.signals import SIGNALS, Export, Rules, Signal

MAX_STREAMS = 100  # per connection; a Collector exports with ~10 at once, Claude Code with 3
MAX_CONNECTION_AGE_S = 30 * 60  # even a busy connection (never idle) reconnects now and then


def _handler(ingest: Ingest, signal: Signal, rules: Rules, gate: Gate) -> grpc.RpcMethodHandler:
    async def export(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        try:
            metadata = dict(context.invocation_metadata() or ())
            sender = await gate.check(bearer_forms(metadata.get("authorization")), "ingest", "admin")
            export = Export(signal, request, decode.PROTOBUF, None, rules, sender)
            done = await ingest.export(export, len(request), "grpc")
            response = signal.response(done.rejected, done.message)
        except CcmonitorError as exc:
            await context.abort(exc.grpc_code, str(exc))
        return response.SerializeToString()

    return grpc.unary_unary_rpc_method_handler(export)


def create_server(ingest: Ingest, *, rules: Rules, gate: Gate, limits: Limits) -> grpc.aio.Server:
    # The HTTP ports' limits (connections.py) in grpc's terms. grpc cannot shed idle connections, so at
    # max_connections a new one is refused until the idle and handshake timers free a slot.
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", rules.max_body_bytes),
            ("grpc.so_reuseport", 0),  # a busy port must fail, not be silently shared
            ("grpc.max_allowed_incoming_connections", limits.max_connections),
            ("grpc.server_handshake_timeout_ms", int(limits.header_timeout_s * 1000)),
            ("grpc.max_connection_idle_ms", limits.keepalive_timeout_s * 1000),
            ("grpc.max_connection_age_ms", MAX_CONNECTION_AGE_S * 1000),  # grpc adds +-10% jitter
            ("grpc.max_connection_age_grace_ms", int(limits.drain_s * 1000)),
            ("grpc.max_concurrent_streams", MAX_STREAMS),
        ],
        maximum_concurrent_rpcs=limits.max_connections,  # RESOURCE_EXHAUSTED beyond: OTLP clients retry it
    )
    for signal in SIGNALS.values():
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(signal.grpc_service, {"Export": _handler(ingest, signal, rules,
                                                                                          gate)}),)
        )
    return server
