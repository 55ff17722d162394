"""Wire bytes -> OTLP Export*ServiceRequest protobuf. Every transport quirk lives here.

OTLP/JSON is not plain protobuf-JSON (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding):
trace and span ids are hex, not base64. Claude Code also sends 64-bit ints as JSON numbers where the
protobuf mapping writes strings, enums as integers, and explicit zero values; json_format accepts
those, plus both lowerCamelCase and snake_case keys. Unknown fields are ignored, never an error.
Bodies may be gzip/deflate compressed; the size limit applies after decompression, enforced while
inflating so a small bomb can't allocate gigabytes.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError as ProtobufDecodeError
from google.protobuf.message import Message

from ccmonitor.errors import DecodeError, PayloadTooLarge, UnsupportedMediaType
from ccmonitor.otlp import census

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
# OTLP/JSON's own depth is 6-10; attribute values (kvlist in kvlist) add 3 a level. json_format stops
# at 100 anyway; refusing earlier keeps the walks below cheap and the error a 400.
MAX_JSON_DEPTH = 64
_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"})


def media_type(content_type: str | None) -> str:
    """The request's media type, or UnsupportedMediaType. Missing means protobuf (OTLP's default)."""
    mt = (content_type or PROTOBUF).split(";", 1)[0].strip().lower()
    if mt in (PROTOBUF, "application/protobuf", "application/octet-stream"):
        return PROTOBUF
    if mt == JSON:
        return JSON
    raise UnsupportedMediaType(f"unsupported content-type {mt!r}; use {PROTOBUF} or {JSON}")


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    """Inflate gzip (every member: `gzip(A) + gzip(B)` is one valid gzip body) or deflate, refusing
    anything that inflates past `limit` while inflating, and any bytes after the last stream."""
    enc = (encoding or "identity").strip().lower()
    if enc in ("", "identity"):
        if len(body) > limit:
            raise PayloadTooLarge(f"body is {len(body)} bytes; the limit is {limit}")
        return body
    if enc in ("gzip", "x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif enc == "deflate":
        wbits = zlib.MAX_WBITS if body[:1] == b"\x78" else -zlib.MAX_WBITS  # zlib-wrapped or raw
    else:
        raise UnsupportedMediaType(f"unsupported content-encoding {enc!r}; use gzip, deflate or identity")
    parts: list[bytes] = []
    size = 0
    rest = body
    try:
        while True:
            inflater = zlib.decompressobj(wbits)
            out = inflater.decompress(rest, limit + 1 - size)
            size += len(out)
            if size > limit:
                raise PayloadTooLarge(f"body inflates past the limit of {limit} bytes")
            parts.append(out)
            if not inflater.eof:
                raise DecodeError(f"truncated {enc} body")
            rest = inflater.unused_data
            if not rest:
                break
            if wbits != 16 + zlib.MAX_WBITS:
                raise DecodeError(f"{len(rest)} bytes after the end of the {enc} stream")
    except zlib.error as exc:
        raise DecodeError(f"invalid {enc} body: {exc}") from None
    return parts[0] if len(parts) == 1 else b"".join(parts)


def parse(body: bytes, mt: str, request_type: type[Message], signal: str, max_records: int) -> Message:
    """Decode a request, refusing more than `max_records` records before building any of them."""
    message = request_type()
    if mt == PROTOBUF:
        census.count_protobuf(body, signal, max_records)
        try:
            message.ParseFromString(body)
        except (ProtobufDecodeError, RuntimeError, ValueError) as exc:
            raise DecodeError(f"invalid protobuf {request_type.__name__}: {exc}") from None
        census.check_attributes(message, signal)
        return message
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise DecodeError(f"invalid JSON: {str(exc)[:200]}") from None
    except RecursionError:
        raise DecodeError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    if not isinstance(doc, dict):
        raise DecodeError("JSON body must be an object")
    _rewrite_ids(doc)
    census.count_json(doc, signal, max_records)
    try:
        json_format.ParseDict(doc, message, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
        raise DecodeError(f"invalid OTLP/JSON {request_type.__name__}: {str(exc)[:200]}") from None
    census.check_attributes(message, signal)
    return message


def _rewrite_ids(doc: dict[str, Any]) -> None:
    """Check the nesting depth and rewrite hex trace/span ids in place to the base64 that
    protobuf-JSON expects; iterative, so no depth can exhaust the stack."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise DecodeError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(node, dict):
            for key, value in node.items():
                if key in _ID_KEYS and isinstance(value, str):
                    node[key] = _hex_to_base64(value)
                elif isinstance(value, (dict, list)):
                    stack.append((value, depth + 1))
        else:
            stack.extend((item, depth + 1) for item in node if isinstance(item, (dict, list)))


def _hex_to_base64(value: str) -> str:
    try:
        return base64.b64encode(bytes.fromhex(value)).decode()
    except ValueError:
        try:  # already base64 (a protobuf-JSON encoder)?
            base64.b64decode(value, validate=True)
            return value
        except (binascii.Error, ValueError):  # ValueError: not even ASCII
            raise DecodeError(f"trace/span id {value[:40]!r} is neither hex nor base64") from None
