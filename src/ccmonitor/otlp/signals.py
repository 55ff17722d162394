"""The signal table: everything that differs between logs, metrics and traces, in one place, so the
HTTP and gRPC receivers each have one handler driven by it; and `Export`, the typed request a receiver
hands to `Ingest.export` (ingest decodes it on its own threads, without knowing OTLP)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as logs_pb
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as metrics_pb
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as trace_pb

from ccmonitor.credentials import Sender
from ccmonitor.inflight import Hold
from ccmonitor.otlp import decode, logs, metrics, traces
from ccmonitor.records import Batch, Decoded
from ccmonitor.redaction import Redactor


@dataclass(frozen=True)
class Rules:
    """What decoding enforces: the settings of the same names (config.py); `redactor` is what
    --redact and --hash-emails ask for (None: text and identities are stored as sent)."""
    max_body_bytes: int = 16 << 20
    max_records: int = 20_000
    store_prompts: bool = True
    redactor: Redactor | None = None


@dataclass(frozen=True)
class Signal:
    name: str  # logs | metrics | traces, also the /v1/<name> path
    request_type: type[Message]
    response_type: type[Message]
    to_batch: Callable[[Message, bool, Redactor | None], tuple[Batch, int, str]]
    rejected_field: str  # the partial_success counter
    grpc_service: str

    def decode(self, body: bytes, media_type: str, rules: Rules,
               sender: Sender | None = None) -> tuple[Batch, int, str]:
        """An uncompressed body -> (rows, records rejected, why). The sender's attributes (its token's)
        are set on every resource first, so they are custom attributes like the client's own."""
        message = decode.parse(body, media_type, self.request_type, self.name, rules.max_records)
        if sender is not None and sender.attributes:
            stamp(message, sender.attributes)
        return self.to_batch(message, rules.store_prompts, rules.redactor)

    def response(self, rejected: int, message: str) -> Message:
        resp = self.response_type()
        if rejected or message:
            setattr(resp.partial_success, self.rejected_field, rejected)
            resp.partial_success.error_message = message
        return resp


SIGNALS: dict[str, Signal] = {
    s.name: s
    for s in (
        Signal("logs", logs_pb.ExportLogsServiceRequest, logs_pb.ExportLogsServiceResponse,
               logs.to_batch, "rejected_log_records",  # type: ignore[arg-type]
               "opentelemetry.proto.collector.logs.v1.LogsService"),
        Signal("metrics", metrics_pb.ExportMetricsServiceRequest, metrics_pb.ExportMetricsServiceResponse,
               metrics.to_batch, "rejected_data_points",  # type: ignore[arg-type]
               "opentelemetry.proto.collector.metrics.v1.MetricsService"),
        Signal("traces", trace_pb.ExportTraceServiceRequest, trace_pb.ExportTraceServiceResponse,
               traces.to_batch, "rejected_spans",  # type: ignore[arg-type]
               "opentelemetry.proto.collector.trace.v1.TraceService"),
    )
}


def stamp(message: Message, extra: tuple[tuple[str, str], ...]) -> None:
    """Set server-side resource attributes on every resource of an export request, and take the same
    keys off its records (Claude Code repeats OTEL_RESOURCE_ATTRIBUTES on every event): the server's
    value wins everywhere (a laptop cannot report itself into another team, or as another token)."""
    keys = {key for key, _ in extra}
    for resource, records in _resources(message):
        _drop(resource.resource.attributes, keys)
        for key, value in extra:
            resource.resource.attributes.add(key=key).value.string_value = value
        for record in records:
            _drop(record.attributes, keys)


def _resources(message: Message) -> Iterator[tuple[Any, Iterator[Any]]]:
    """(resource, its records with attributes) of a logs, metrics or traces request."""
    for rl in getattr(message, "resource_logs", ()):
        yield rl, (r for sl in rl.scope_logs for r in sl.log_records)
    for rm in getattr(message, "resource_metrics", ()):
        yield rm, (p for sm in rm.scope_metrics for m in sm.metrics for p in _points(m))
    for rs in getattr(message, "resource_spans", ()):
        yield rs, (s for ss in rs.scope_spans for s in ss.spans)


def _points(metric: Any) -> Any:
    kind = metric.WhichOneof("data")
    return getattr(metric, kind).data_points if kind else ()


def _drop(attrs: Any, keys: set[str]) -> None:
    if any(kv.key in keys for kv in attrs):
        kept = [kv for kv in attrs if kv.key not in keys]
        del attrs[:]
        attrs.extend(kept)


@dataclass(frozen=True)
class Export:
    """One export request as received (the ingest.Request of the receivers)."""
    signal: Signal
    wire: bytes  # as received: `encoding` not yet undone
    media_type: str
    encoding: str | None
    rules: Rules
    sender: Sender | None = None  # the token that sent it, when tokens are in use

    @property
    def name(self) -> str:
        return self.signal.name

    def decode(self, hold: Hold) -> Decoded:
        body = decode.decompress(self.wire, self.encoding, self.rules.max_body_bytes)
        if body is not self.wire:
            hold.add(len(body))
        batch, rejected, message = self.signal.decode(body, self.media_type, self.rules, self.sender)
        return Decoded(batch, rejected, message)
