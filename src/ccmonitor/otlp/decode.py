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

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
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
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, limit + 1)
        if len(out) > limit:
            raise PayloadTooLarge(f"body inflates past the limit of {limit} bytes")
        if not inflater.eof:
            raise DecodeError(f"truncated {enc} body")
    except zlib.error as exc:
        raise DecodeError(f"invalid {enc} body: {exc}") from None
    return out


def parse(body: bytes, mt: str, request_type: type[Message]) -> Message:
    message = request_type()
    if mt == PROTOBUF:
        try:
            message.ParseFromString(body)
        except (ProtobufDecodeError, RuntimeError, ValueError) as exc:
            raise DecodeError(f"invalid protobuf {request_type.__name__}: {exc}") from None
        return message
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise DecodeError(f"invalid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise DecodeError("JSON body must be an object")
    try:
        json_format.ParseDict(_ids_to_base64(doc), message, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
        raise DecodeError(f"invalid OTLP/JSON {request_type.__name__}: {exc}") from None
    return message


def _ids_to_base64(node: Any) -> Any:
    """Rewrite hex trace/span ids in place to the base64 that protobuf-JSON expects."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_KEYS and isinstance(value, str):
                node[key] = _hex_to_base64(value)
            elif isinstance(value, (dict, list)):
                _ids_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, (dict, list)):
                _ids_to_base64(item)
    return node


def _hex_to_base64(value: str) -> str:
    try:
        return base64.b64encode(bytes.fromhex(value)).decode()
    except ValueError:
        try:  # already base64 (a protobuf-JSON encoder)?
            base64.b64decode(value, validate=True)
            return value
        except binascii.Error:
            raise DecodeError(f"trace/span id {value[:40]!r} is neither hex nor base64") from None
