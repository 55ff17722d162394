"""grpc.aio Logs/Metrics/Trace services, registered from the signal table.

Handlers take the raw request bytes (no generated deserializer) so a malformed message becomes
INVALID_ARGUMENT with our message, not an opaque INTERNAL. grpc itself handles gzip/deflate
message compression and enforces the size limit (RESOURCE_EXHAUSTED). Metadata values are already
percent-decoded by the client (`Bearer static-token`).
"""

from __future__ import annotations

import grpc

from ccmonitor.errors import CcmonitorError
from ccmonitor.ingest import Ingest
from ccmonitor.otlp import decode
from ccmonitor.otlp.http import check_token
from ccmonitor.otlp.signals import SIGNALS, Signal


def _handler(ingest: Ingest, signal: Signal, auth_token: str | None) -> grpc.RpcMethodHandler:
    async def export(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        try:
            metadata = dict(context.invocation_metadata() or ())
            check_token(metadata.get("authorization"), auth_token)
            response = await ingest.export(signal, request, decode.PROTOBUF, "grpc")
        except CcmonitorError as exc:
            await context.abort(exc.grpc_code, str(exc))
        return response.SerializeToString()

    return grpc.unary_unary_rpc_method_handler(export)


def create_server(ingest: Ingest, *, max_body_bytes: int, auth_token: str | None) -> grpc.aio.Server:
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", max_body_bytes),
            ("grpc.so_reuseport", 0),  # a busy port must fail, not be silently shared
        ]
    )
    for signal in SIGNALS.values():
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(signal.grpc_service, {"Export": _handler(ingest, signal,
                                                                                          auth_token)}),)
        )
    return server
