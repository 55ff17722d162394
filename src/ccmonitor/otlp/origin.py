"""Where a record came from: its resource and instrumentation scope, prepared once per scope.

Every attribute without a column ends up in custom_attributes: resource attributes (including the
OTEL_RESOURCE_ATTRIBUTES keys such as `team`), the scope as `otel.scope.name` / `otel.scope.version`,
then the record's own attributes on top. When a record attribute shadows a resource attribute with a
different value, the resource value stays under `resource.<key>`, so nothing is lost.

The resource's own custom keys (what users add with OTEL_RESOURCE_ATTRIBUTES: team, department, ...,
everything but the keys OTel SDKs and Claude Code set) form its attribute set, identified by a 64-bit
digest of its canonical JSON: the dashboard filters and rolls up by it (store/attribute_sets.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from ccmonitor.otlp.values import any_value, as_text, attributes

# Attribute -> identity column, shared by metrics and events (Claude Code's standard attributes).
IDENTITY_KEYS: tuple[tuple[str, str], ...] = (
    ("session_id", "session.id"),
    ("account_uuid", "user.account_uuid"),
    ("organization_id", "organization.id"),
    ("terminal_type", "terminal.type"),
    ("app_version", "app.version"),
    ("user_id", "user.id"),
    ("user_email", "user.email"),
)
# Resource keys set by OTel SDKs, Claude Code or the platform: not a custom attribute.
STANDARD_PREFIXES = ("host.", "os.", "service.", "otel.", "anthropic.", "telemetry.", "process.",
                     "resource.", "deployment.", "container.", "k8s.", "cloud.", "event.")
_IDENTITY_ATTRIBUTES = frozenset(key for _, key in IDENTITY_KEYS)


def digest(*parts: bytes, size: int = 16) -> bytes:
    h = hashlib.blake2b(digest_size=size)
    for part in parts:
        h.update(len(part).to_bytes(4, "little"))
        h.update(part)
    return h.digest()


def record_key(*parts: bytes) -> int:
    """A record's dedup key: a signed 64-bit digest (SQLite INTEGER), unique together with its timestamp."""
    return int.from_bytes(digest(*parts, size=8), "little", signed=True)


def sorted_attributes_bytes(kvs: Any) -> bytes:
    return b"".join(kv.SerializeToString(deterministic=True) for kv in sorted(kvs, key=_key))


def _key(kv: KeyValue) -> str:
    return kv.key


def attribute_set(custom: dict[str, Any]) -> tuple[int, str]:
    """(id, canonical JSON) of a set of custom attributes; the empty set is 0."""
    if not custom:
        return 0, "{}"
    text = json.dumps(custom, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return record_key(text.encode()) or 1, text


def is_custom(key: str) -> bool:
    return not key.startswith(STANDARD_PREFIXES) and key not in _IDENTITY_ATTRIBUTES


@dataclass(slots=True)
class Origin:
    base: dict[str, Any]  # resource + scope attributes, the floor of custom_attributes
    digest: bytes  # identity of resource + scope, part of every dedup and series key
    service_version: str | None
    attribute_set: tuple[int, str]  # (id, JSON) of the resource's custom attributes

    @classmethod
    def of(cls, resource: Resource, scope: InstrumentationScope) -> Origin:
        base = attributes(resource.attributes)
        if scope.name:
            base["otel.scope.name"] = scope.name
        if scope.version:
            base["otel.scope.version"] = scope.version
        if scope.attributes:
            for key, value in attributes(scope.attributes).items():
                base.setdefault("otel.scope." + key, value)
        d = digest(
            sorted_attributes_bytes(resource.attributes),
            scope.name.encode(),
            scope.version.encode(),
            sorted_attributes_bytes(scope.attributes),
        )
        custom = {k: v for k, v in base.items() if is_custom(k)} if resource.attributes else {}
        return cls(base, d, as_text(base.get("service.version")), attribute_set(custom))

    def merged(self, kvs: Iterable[KeyValue]) -> dict[str, Any]:
        """Resource + scope + the record's attributes, converted in one pass (the ingest hot path)."""
        base = self.base
        out = base.copy()
        for kv in kvs:
            key = kv.key
            v = kv.value
            kind = v.WhichOneof("value")
            if kind == "string_value":
                value: Any = v.string_value
            elif kind == "int_value":
                value = v.int_value
            else:
                value = any_value(v)
            if key in base and base[key] != value:
                out["resource." + key] = base[key]
            out[key] = value
        return out

    def identity(self, attrs: dict[str, Any]) -> tuple[str | None, ...]:
        """Pop the identity columns out of a merged attribute dict, in IDENTITY_KEYS order."""
        values = []
        pop = attrs.pop
        for column, key in IDENTITY_KEYS:
            v = pop(key, None)
            text = v if type(v) is str or v is None else as_text(v)
            if text is None and v is not None:
                attrs[key] = v  # not a scalar: keep it rather than lose it
            if column == "app_version" and text is None:
                text = self.service_version
            values.append(text)
        return tuple(values)
