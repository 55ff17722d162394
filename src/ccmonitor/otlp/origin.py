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

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from ccmonitor.otlp.values import any_value, as_text, attributes
from ccmonitor.telemetry import IDENTITY_KEYS, attribute_set, digest, is_custom


def sorted_attributes_bytes(kvs: Any) -> bytes:
    return b"".join(kv.SerializeToString(deterministic=True) for kv in sorted(kvs, key=_key))


def _key(kv: KeyValue) -> str:
    return kv.key


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
