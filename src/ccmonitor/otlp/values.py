"""OTLP values -> plain Python, keeping native types (int, float, bool, str, list, dict).

Claude Code mixes types for the same idea (token counts are ints, `success` and `duration_ms` on
tool_result are strings, `anthropic.custom_base_url` is a bool), so columns get a tolerant parse and
the attribute keeps its original value in custom_attributes whenever the parse fails.
"""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Iterable, Sequence
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from ccmonitor.errors import PayloadTooLarge

MAX_ELEMENTS = 10_000  # per array or kvlist attribute value


def any_value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind == "string_value":
        return v.string_value
    if kind == "int_value":
        return v.int_value
    if kind == "double_value":
        d = v.double_value
        return d if math.isfinite(d) else str(d)  # JSON has no NaN/Infinity
    if kind == "bool_value":
        return v.bool_value
    if kind == "array_value":
        return [any_value(x) for x in _bounded(v.array_value.values)]
    if kind == "kvlist_value":
        return attributes(_bounded(v.kvlist_value.values))
    if kind == "bytes_value":
        return base64.b64encode(v.bytes_value).decode()
    return None


def _bounded(values: Sequence[Any]) -> Sequence[Any]:
    """An empty element is 2 bytes on the wire: refuse a value holding millions before converting any."""
    if len(values) > MAX_ELEMENTS:
        raise PayloadTooLarge(f"an attribute value holds {len(values)} elements; at most {MAX_ELEMENTS} are accepted")
    return values


def attributes(kvs: Iterable[KeyValue]) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in kvs}


def as_int(value: Any) -> int | None:
    """An int from an int, an integral float, or a numeric string; None if it isn't one."""
    kind = type(value)
    if kind is int:
        return value  # type: ignore[no-any-return]
    if kind is bool:
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            try:
                f = float(value)
            except ValueError:
                return None
            return int(f) if f.is_integer() else None
    return None


def as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            f = float(value)
        except ValueError:
            return None
        return f if math.isfinite(f) else None
    return None


def as_text(value: Any) -> str | None:
    """Booleans as 'true'/'false' (the client's own spelling for `success`), scalars as str."""
    if type(value) is str or value is None:
        return value  # type: ignore[no-any-return]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return None


def hex_id(raw: bytes) -> str | None:
    return raw.hex() if raw and any(raw) else None


_second_cache: dict[int, str] = {}


def timestamp_text(unix_nano: int) -> str:
    """UTC 'YYYY-MM-DD HH:MM:SS.mmm': SQLite's own datetime form, so datetime('now', ...) compares."""
    sec, rem = divmod(unix_nano, 1_000_000_000)
    prefix = _second_cache.get(sec)
    if prefix is None:
        if len(_second_cache) > 4096:
            _second_cache.clear()
        try:
            prefix = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(sec))
        except (OverflowError, OSError, ValueError):
            prefix = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(0))
        _second_cache[sec] = prefix
    return f"{prefix}.{rem // 1_000_000:03d}"


def now_unix_nano() -> int:
    return time.time_ns()
