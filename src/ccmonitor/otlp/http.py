"""POST /v1/{logs,metrics,traces}: one handler driven by the signal table.

Mounted on the OTLP/HTTP port (4318) and on the app port (5000), so an OTel Collector's otlphttp
exporter can point at either. Errors follow the OTLP/HTTP spec: a google.rpc.Status body in the
request's own encoding; 400/413/415 are permanent, 503 carries Retry-After.
Chunked bodies (Claude Code <= 2.1.211) are read like any other, with the wire size capped while
streaming.
"""

from __future__ import annotations

import logging

from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import status_pb2
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from ccmonitor.credentials import Gate, bearer_forms
from ccmonitor.errors import CcmonitorError, PayloadTooLarge, RetryableError
from ccmonitor.inflight import Hold
from ccmonitor.ingest import Ingest
from ccmonitor.otlp import decode
from ccmonitor.otlp.signals import SIGNALS, Export, Rules, Signal

log = logging.getLogger(__name__)


def encode(message: Message, media_type: str) -> bytes:
    if media_type == decode.JSON:
        return json_format.MessageToJson(message, indent=None).encode()
    return message.SerializeToString()


def error_response(exc: CcmonitorError, media_type: str) -> Response:
    status = status_pb2.Status(code=exc.grpc_code.value[0], message=str(exc))
    headers = {"retry-after": str(exc.retry_after_s)} if isinstance(exc, RetryableError) else None
    return Response(encode(status, media_type), status_code=exc.http_status, headers=headers,
                    media_type=media_type)


async def read_body(request: Request, limit: int, hold: Hold) -> bytes:
    """The wire body, counted against the in-flight budget chunk by chunk as it arrives."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body is {declared} bytes; the limit is {limit}")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body exceeds the limit of {limit} bytes")
        hold.add(len(chunk))
        chunks.append(chunk)
    return b"".join(chunks)


def routes(ingest: Ingest, *, rules: Rules, gate: Gate) -> list[Route]:
    def handler(signal: Signal):  # type: ignore[no-untyped-def]
        async def export(request: Request) -> Response:
            media_type = decode.PROTOBUF
            try:
                media_type = decode.media_type(request.headers.get("content-type"))
                sender = await gate.check(bearer_forms(request.headers.get("authorization")), "ingest", "admin")
                ingest.admit()
                transport = "http/json" if media_type == decode.JSON else "http/protobuf"
                with ingest.inflight.hold() as hold:
                    wire = await read_body(request, rules.max_body_bytes, hold)
                    export = Export(signal, wire, media_type, request.headers.get("content-encoding"), rules, sender)
                    done = await ingest.export(export, len(wire), transport, hold=hold)
                    response = signal.response(done.rejected, done.message)
            except CcmonitorError as exc:
                return error_response(exc, media_type)
            except ClientDisconnect:  # nobody is left to answer; not worth more than a debug line
                log.debug("client went away before its %s body arrived", signal.name)
                return Response(status_code=400)
            return Response(encode(response, media_type), media_type=media_type)

        return export

    return [Route(f"/v1/{name}", handler(signal), methods=["POST"]) for name, signal in SIGNALS.items()]
